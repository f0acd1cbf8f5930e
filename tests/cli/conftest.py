def pytest_configure(config):
    config.addinivalue_line("markers", "slow: the default digits run (tens of seconds)")

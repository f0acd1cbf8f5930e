import sys
from pathlib import Path

# Process pools import objectives by module name: make `objectives` importable.
sys.path.insert(0, str(Path(__file__).parent))

"""A two-layer perceptron learns XOR, written with nothing but tensors and autodiff.

Run: python examples/xor.py
XOR is the classic problem a single perceptron cannot solve: it needs a hidden layer.
"""

import gradwork as gw


def main(steps: int = 2000, learning_rate: float = 0.5) -> float:
    gw.manual_seed(0)
    inputs = gw.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    targets = gw.tensor([[0.0], [1.0], [1.0], [0.0]])

    # Glorot-style scaled initial weights for a 2-8-1 network.
    w1 = (gw.randn(2, 8) * (2 / 10) ** 0.5).requires_grad_()
    b1 = gw.zeros(8, requires_grad=True)
    w2 = (gw.randn(8, 1) * (2 / 9) ** 0.5).requires_grad_()
    b2 = gw.zeros(1, requires_grad=True)
    parameters = [w1, b1, w2, b2]

    for step in range(steps + 1):
        hidden = (inputs @ w1 + b1).tanh()
        predictions = (hidden @ w2 + b2).sigmoid()
        loss = ((predictions - targets) ** 2).mean()
        for p in parameters:
            p.grad = None
        loss.backward()
        with gw.no_grad():  # plain gradient descent
            for p in parameters:
                p -= learning_rate * p.grad  # in place, as in torch
        if step % 500 == 0:
            print(f"step {step:5d}  loss {loss.item():.5f}")

    accuracy = ((predictions > 0.5) == (targets > 0.5)).float().mean().item()
    rounded = [round(float(v), 3) for v in predictions.detach().numpy().ravel()]
    print(f"predictions {rounded}  accuracy {accuracy:.2f}")
    return float(accuracy)


if __name__ == "__main__":
    main()

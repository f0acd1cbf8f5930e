"""Full backward (pre-)hooks: which entries are None, zeros or gradients, as in torch.

torch 2.x materializes the gradients of a module's tensor inputs: a tensor
that does not require grad, or that forward leaves unused, shows zeros in
`grad_input`; non-tensor arguments show None. On the output side an output
that no gradient reached shows None in `grad_output` (zeros still flow on).
Each scenario runs on gradwork and on torch and the records must agree.
"""

from __future__ import annotations

import warnings

import pytest

import gradwork as gw


def _describe(grads):
    """None, 'zeros' or the gradient's values, per entry."""
    out = []
    for g in grads:
        if g is None:
            out.append(None)
        else:
            values = [round(float(v), 6) for v in g.detach().reshape(-1).tolist()]
            out.append("zeros" if not any(values) else values)
    return out


def _modules(T):
    nn = T.nn

    class FirstOnly(nn.Module):
        def forward(self, a, b):
            return a * 2

    class Product(nn.Module):
        def forward(self, a, b):
            return a * b

    class TwoOut(nn.Module):
        def forward(self, a):
            return a * 2, a * 3

    class Pairwise(nn.Module):
        def forward(self, a, b):
            return a * 2, b * 3

    class WithInt(nn.Module):
        def forward(self, a):
            return a * 2, 5, a * 3

    return FirstOnly, Product, TwoOut, Pairwise, WithInt


def _scenario(T, name):
    """Run scenario `name` on framework `T`; return what the hooks saw and the leaves' grads."""
    FirstOnly, Product, TwoOut, Pairwise, WithInt = _modules(T)
    seen = []

    def record(module, grad_input, grad_output):
        seen.append(("hook", _describe(grad_input), _describe(grad_output)))

    def record_pre(module, grad_output):
        seen.append(("pre", _describe(grad_output)))

    a = T.tensor([1.0, 2.0], requires_grad=True)
    b = T.tensor([3.0, 4.0], requires_grad=True)
    constant = T.tensor([5.0, 6.0])
    kinds = {"unused": FirstOnly, "constant": FirstOnly, "int": FirstOnly, "mixed": Product,
             "zero": FirstOnly, "two_out": TwoOut, "pair_second": Pairwise,
             "pair_first": Pairwise, "with_int": WithInt, "with_int_last": WithInt}  # fmt: skip
    module = kinds[name]()
    module.register_full_backward_hook(record)
    module.register_full_backward_pre_hook(record_pre)
    if name == "unused":
        module(a, b).sum().backward()
    elif name == "constant":
        module(a, constant).sum().backward()
    elif name == "int":
        module(a, 3).sum().backward()
    elif name == "mixed":
        module(constant, b).sum().backward()
    elif name == "zero":
        (module(a, b) * 0).sum().backward()
    elif name == "two_out":
        module(a)[0].sum().backward()
    elif name == "pair_second":
        module(a, b)[1].sum().backward()
    elif name == "pair_first":
        module(a, b)[0].sum().backward()
    elif name == "with_int":
        first, _, last = module(a)
        (first + last).sum().backward()
    elif name == "with_int_last":
        module(a)[2].sum().backward()
    grads = [_describe([t.grad])[0] for t in (a, b)]
    return seen, grads


SCENARIOS = ["unused", "constant", "int", "mixed", "zero", "two_out", "pair_second",
             "pair_first", "with_int", "with_int_last"]  # fmt: skip


@pytest.mark.parametrize("name", SCENARIOS)
def test_hooks_see_what_torch_hooks_see(name, torch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "full backward hook ... no input requires grad"
        expected = _scenario(torch, name)
    assert _scenario(gw, name) == expected


def test_the_known_answers_without_torch():
    """The same rules, spelled out (these are torch 2.13's answers)."""
    seen, grads = _scenario(gw, "unused")
    assert seen == [("pre", [[1.0, 1.0]]), ("hook", [[2.0, 2.0], "zeros"], [[1.0, 1.0]])]
    assert grads == [[2.0, 2.0], "zeros"]
    seen, _ = _scenario(gw, "mixed")
    assert seen[1] == ("hook", ["zeros", [5.0, 6.0]], [[1.0, 1.0]])
    seen, _ = _scenario(gw, "int")
    assert seen[1][1] == [[2.0, 2.0], None]
    seen, grads = _scenario(gw, "pair_first")
    assert seen == [
        ("pre", [[1.0, 1.0], None]),
        ("hook", [[2.0, 2.0], "zeros"], [[1.0, 1.0], None]),
    ]
    assert grads == [[2.0, 2.0], "zeros"]  # zeros flow on from the unused output
    seen, _ = _scenario(gw, "with_int_last")
    assert seen[0] == ("pre", [None, None, [1.0, 1.0]])


def _replacing(T, pre_result, hook_result):
    _, Product, TwoOut, _, _ = _modules(T)
    a = T.tensor([1.0, 2.0], requires_grad=True)
    b = T.tensor([3.0, 4.0], requires_grad=True)
    two = TwoOut()
    two.register_full_backward_pre_hook(lambda m, go: pre_result(T, go))
    two(a)[0].sum().backward()
    product = Product()
    product.register_full_backward_hook(lambda m, gi, go: hook_result(T, gi))
    product(T.tensor([1.0, 1.0]), b).sum().backward()
    return a.grad.tolist(), b.grad.tolist()


def test_replacing_a_none_gradient_sends_it_on(torch):
    def pre(T, go):  # the unused output's None replaced by ones
        return go[0], T.ones(2)

    def hook(T, gi):  # the constant input's zeros replaced: ignored, as in torch
        return T.ones(2) * 7, gi[1] * 3

    expected = _replacing(torch, pre, hook)
    assert _replacing(gw, pre, hook) == expected == ([5.0, 5.0], [3.0, 3.0])


def test_a_none_returned_for_an_input_stops_its_gradient():
    FirstOnly = _modules(gw)[0]
    a, b = gw.ones(2, requires_grad=True), gw.ones(2, requires_grad=True)
    module = FirstOnly()
    module.register_full_backward_hook(lambda m, gi, go: (gi[0] * 10, None))
    module(a, b).sum().backward()
    assert a.grad.tolist() == [20.0, 20.0] and b.grad is None


def test_a_retained_graph_reports_the_same_twice():
    Pairwise = _modules(gw)[3]
    seen = []
    module = Pairwise()
    module.register_full_backward_pre_hook(lambda m, go: seen.append([g is None for g in go]))
    first, _ = module(gw.ones(2, requires_grad=True), gw.ones(2, requires_grad=True))
    first.sum().backward(retain_graph=True)
    first.sum().backward()
    assert seen == [[False, True], [False, True]]

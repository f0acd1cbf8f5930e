"""What each finding of `watch()` says, and its fix: `check -> (message, fix)` templates."""

TEXTS = {
    "softmax_into_cross_entropy": (
        "CrossEntropyLoss was given softmax probabilities: it applies log-softmax itself, so "
        "the outputs are squashed twice and the gradients shrink as the model grows confident",
        "feed CrossEntropyLoss the raw logits (remove the softmax / nn.Softmax before it); "
        "apply softmax only when you need probabilities, outside the loss",
    ),
    "log_softmax_into_cross_entropy": (
        "CrossEntropyLoss was given log_softmax outputs: it applies log-softmax itself (the "
        "result is the same, computed twice), and the pairing usually means NLLLoss was meant",
        "feed CrossEntropyLoss the raw logits, or keep log_softmax and use NLLLoss",
    ),
    "sigmoid_into_bce_with_logits": (
        "BCEWithLogitsLoss was given sigmoid outputs: it applies the sigmoid itself, so the "
        "probabilities are squashed into [0.5, 0.73] and the model barely learns",
        "feed BCEWithLogitsLoss the raw logits (remove the sigmoid / nn.Sigmoid before it), "
        "or keep the sigmoid and use BCELoss",
    ),
    "params_unreached": (
        "{count} parameter(s) given to the optimizer got no gradient from the loss ({names}): "
        "they are used only under no_grad, after .detach(), or not at all",
        "compute the loss from these parameters with gradients on (no no_grad / detach on "
        "the path), or leave them out of the optimizer if they are meant to stay fixed",
    ),
    "params_frozen": (
        "{count} parameter(s) given to the optimizer have requires_grad=False ({names}): they "
        "will never be trained",
        "if frozen by accident, call p.requires_grad_(True); if on purpose, pass only the "
        "trainable ones: optim.SGD([p for p in model.parameters() if p.requires_grad], ...)",
    ),
    "zero_grad_missing": (
        "gradients were not reset between optimizer steps: each backward adds to the "
        "gradients of every earlier step, so the updates keep growing",
        "call optimizer.zero_grad() once per step, before loss.backward()",
    ),
    "zero_grad_before_step": (
        "zero_grad() ran between backward() and optimizer.step(): the step sees no gradient "
        "and the model does not learn",
        "call optimizer.zero_grad() before loss.backward() (or after optimizer.step()), never "
        "between them",
    ),
    "graph_kept_alive": (
        "{variable} keeps the graph of every step alive (a loss Tensor is added to it, not its "
        "value): the graph and its memory grow with the step count",
        "accumulate the number, not the tensor: {variable} += loss.item() (or loss.detach())",
    ),
    "eval_in_train_mode": (
        "the model was evaluated in training mode: dropout and batch-norm statistics were "
        "active ({names}), so the scores are noisy and batch-norm's running statistics change",
        "call model.eval() before evaluating and model.train() before training again",
    ),
    "eval_with_grad": (
        "the model was evaluated with gradient tracking on: every evaluation batch builds a "
        "graph that is never used, costing time and memory",
        "evaluate inside `with gradwork.no_grad():` (and after model.eval())",
    ),
    "loader_not_shuffled": (
        "the training DataLoader hands out the samples in the same order every epoch: "
        "the model sees the same sequence of batches and can learn its order",
        "pass shuffle=True to the training DataLoader (keep shuffle=False for validation)",
    ),
    "same_batch": (
        "the model was trained on the same batch every step although the loader has more "
        "batches: it memorises that batch instead of learning the data",
        "draw a new batch each step: `for x, y in loader:` inside the epoch loop, instead of "
        "one next(iter(loader)) before it",
    ),
    "labels_constant": (
        "whole batches hold a single label, and it changes from batch to batch: the data "
        "is sorted by class and not shuffled, so each step pulls the model towards one class",
        "shuffle the training data (DataLoader(..., shuffle=True)) or split it with a random "
        "permutation",
    ),
    "normalisation_leak": (
        "the data was standardised with statistics of all of it, validation and test splits "
        "included: the whole data set has mean 0 and std 1 exactly, the training split does "
        "not, so the held-out scores are optimistic",
        "compute the mean and std on the training split only (after the split) and apply "
        "those to every split",
    ),
    "scheduler_per_batch": (
        "{scheduler} was built for {horizon} steps but is stepped every batch, and an epoch has "
        "{batches} batches: its whole schedule runs out within the first epoch",
        "step it once per epoch (after the epoch's loop; Trainer: scheduler_interval='epoch'), "
        "or build it for epochs x batches steps",
    ),
    "scheduler_per_epoch": (
        "{scheduler} was built for {horizon} steps ({epochs:g} epochs of {batches} batches) but "
        "is stepped once per epoch: only a sliver of its schedule is ever used",
        "step it after every optimizer.step() (Trainer: scheduler_interval='batch'), or build "
        "it for the number of epochs",
    ),
}

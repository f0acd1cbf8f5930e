"""Population methods on the unit cube: genetic algorithm, differential evolution, PSO.

All three work asynchronously: ``ask`` builds a new point from the trials told
so far, so any number of workers can run at once, and a trial the algorithm
did not ask for (a resumed journal) is simply another member to learn from.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._distributions import Categorical
from .._pareto import crowding_distance, nondominated_ranks
from .._search_space import Space
from ._base import Algorithm
from ._tpe import latin_hypercube


class _Population(Algorithm):
    """Shared start: a Latin-hypercube first generation of ``size`` points."""

    def setup(self, space: Space, seed: int) -> None:
        super().setup(space, seed)
        dims = max(len(space), 1)
        self._size = self.population or max(10, min(40, 5 * dims))
        self._design = latin_hypercube(self.rng, self._size, len(space))
        self._categorical = [
            i for i, name in enumerate(space.names) if isinstance(space[name], Categorical)
        ]
        self._issued: dict[Any, int] = {}

    def _initial(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        started = len(self.seen) + len(pending)
        if started < self._size:
            return self.fresh(
                np.vstack([self._design[started:], self.space.sample(self.rng, 64)]), pending
            )
        return None


class GA(_Population):
    """Genetic algorithm: tournament selection, uniform crossover, mutation, elitism.

    The parents are the ``elite`` best trials ever plus the latest generation
    (the most recent ``population - elite`` completed trials).

    With several objectives it is NSGA-II (Deb et al. 2002), steady-state: the
    parents are the ``population`` trials ranked best by non-dominated front,
    then crowding distance (so the front spreads out), and a tournament prefers
    the better of those ranks.

    Args:
        population: Members per generation (default ``clip(5 d, 10, 40)``).
        tournament: Contestants per parent selection (more = greedier).
        crossover: Probability that a child mixes two parents.
        mutation: Per-coordinate mutation probability (default ``1 / d``).
        mutation_scale: Standard deviation of a mutation on the unit axis.
        elite: Best trials always kept as parents.
    """

    name = "ga"
    multi_objective = True

    def __init__(
        self, population: int | None = None, tournament: int = 3, crossover: float = 0.9,
        mutation: float | None = None, mutation_scale: float = 0.1, elite: int = 2,
    ) -> None:  # fmt: skip
        self.population, self.tournament, self.crossover = population, tournament, crossover
        self.mutation, self.mutation_scale, self.elite = mutation, mutation_scale, elite

    def _parents(self) -> tuple[np.ndarray, np.ndarray]:
        if self.n_objectives > 1:
            return self._nsga2_parents()
        losses = np.asarray(self.losses)
        elite = np.argsort(losses, kind="stable")[: self.elite]
        recent = np.arange(max(0, len(losses) - (self._size - self.elite)), len(losses))
        members = np.unique(np.r_[elite, recent])
        return np.asarray(self.points)[members], losses[members]

    def _nsga2_parents(self) -> tuple[np.ndarray, np.ndarray]:
        """NSGA-II survival: best fronts first, the least crowded within the last one.

        Returns the survivors and their fitness (position in that order; lower is better).
        """
        losses = np.asarray(self.losses)
        ranks = nondominated_ranks(losses)
        crowding = np.zeros(len(losses))
        for rank in np.unique(ranks):
            members = np.flatnonzero(ranks == rank)
            crowding[members] = crowding_distance(losses[members])
        order = np.lexsort((-crowding, ranks))[: self._size]
        return np.asarray(self.points)[order], np.arange(len(order), dtype=float)

    def _select(self, losses: np.ndarray) -> int:
        contestants = self.rng.integers(0, len(losses), self.tournament)
        return int(contestants[np.argmin(losses[contestants])])

    def propose(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        first = self._initial(pending)
        if first is not None or len(self.losses) < 2:
            return first or self.fresh(self.space.sample(self.rng, 64), pending)
        points, losses = self._parents()
        dims = points.shape[1]
        children = []
        for _ in range(8):  # a few tries in case a child is already taken
            mother, father = points[self._select(losses)], points[self._select(losses)]
            child = mother.copy()
            if self.rng.random() < self.crossover:
                mix = self.rng.random(dims) < 0.5
                child[mix] = father[mix]
            rate = self.mutation if self.mutation is not None else 1.0 / max(dims, 1)
            mutate = self.rng.random(dims) < rate
            child[mutate] += self.mutation_scale * self.rng.standard_normal(mutate.sum())
            for column in self._categorical:
                if mutate[column]:
                    child[column] = self.rng.random()
            children.append(np.clip(child, 0.0, 1.0))
        return self.fresh(np.vstack([children, self.space.sample(self.rng, 64)]), pending)


class DE(_Population):
    """Differential evolution, rand/1/bin, asynchronous.

    Each ask targets the next member in turn: mutant = a + F (b - c) from three
    other members, binomial crossover with rate ``crossover``; the child replaces
    its target when it is no worse.

    Args:
        population: Members (default ``clip(5 d, 10, 40)``).
        mutation: The differential weight F.
        crossover: The crossover rate CR.
    """

    name = "de"

    def __init__(
        self, population: int | None = None, mutation: float = 0.8, crossover: float = 0.9
    ) -> None:
        self.population, self.mutation, self.crossover = population, mutation, crossover

    def setup(self, space: Space, seed: int) -> None:
        super().setup(space, seed)
        self._members: list[np.ndarray] = []
        self._member_losses: list[float] = []
        self._next = 0

    def propose(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        first = self._initial(pending)
        if first is not None or len(self._members) < 4:
            return first or self.fresh(self.space.sample(self.rng, 64), pending)
        count, dims = len(self._members), len(self.space)
        target = self._next % count
        self._next += 1
        others = [i for i in range(count) if i != target]
        a, b, c = (self._members[i] for i in self.rng.choice(others, 3, replace=False))
        mutant = np.clip(a + self.mutation * (b - c), 0.0, 1.0)
        cross = self.rng.random(dims) < self.crossover
        cross[self.rng.integers(dims)] = True
        child = np.where(cross, mutant, self._members[target])
        params = self.fresh(np.vstack([child, self.space.sample(self.rng, 64)]), pending)
        self._issued[self.space.key(params)] = target
        return params

    def tell(self, params: Mapping[str, Any], outcome: Any, estimate: float | None = None) -> Any:
        outcome = super().tell(params, outcome, estimate)
        if outcome is None:
            return None
        point, target = self.space.encode(params), self._issued.pop(self.space.key(params), None)
        if target is None and len(self._members) < self._size:
            self._members.append(point)
            self._member_losses.append(outcome)
            return outcome
        if target is None:  # not ours (a replay): compete with the worst member
            target = int(np.argmax(self._member_losses))
        if outcome <= self._member_losses[target]:
            self._members[target], self._member_losses[target] = point, outcome
        return outcome


class PSO(_Population):
    """Particle swarm optimisation on the unit cube.

    velocity = inertia * velocity + cognitive * r1 * (own best - x) + social * r2 * (swarm best - x)

    High ``inertia`` and ``cognitive`` explore; high ``social`` exploits the best found.

    Args:
        population: Particles (default ``clip(5 d, 10, 40)``).
        inertia: Weight of the previous velocity.
        cognitive: Pull towards the particle's own best.
        social: Pull towards the swarm's best.
    """

    name = "pso"

    def __init__(
        self, population: int | None = None, inertia: float = 0.7, cognitive: float = 1.5,
        social: float = 1.5,
    ) -> None:  # fmt: skip
        self.population, self.inertia = population, inertia
        self.cognitive, self.social = cognitive, social

    def setup(self, space: Space, seed: int) -> None:
        super().setup(space, seed)
        dims = len(space)
        self._position = self._design.copy()
        self._velocity = 0.1 * self.rng.standard_normal((self._size, dims))
        self._own_best = self._design.copy()
        self._own_loss = np.full(self._size, math.inf)
        self._next = 0

    def propose(self, pending: list[dict[str, Any]]) -> dict[str, Any] | None:
        first = self._initial(pending)
        if first is not None:
            self._issued[self.space.key(first)] = (len(self.seen) + len(pending)) % self._size
            return first
        particle = self._next % self._size
        self._next += 1
        swarm_best = self._own_best[int(np.argmin(self._own_loss))]
        r1, r2 = self.rng.random((2, len(self.space)))
        velocity = (
            self.inertia * self._velocity[particle]
            + self.cognitive * r1 * (self._own_best[particle] - self._position[particle])
            + self.social * r2 * (swarm_best - self._position[particle])
        )
        velocity = np.clip(velocity, -0.5, 0.5)
        position = np.clip(self._position[particle] + velocity, 0.0, 1.0)
        velocity[(position == 0.0) | (position == 1.0)] *= -0.5  # bounce off the walls
        self._velocity[particle], self._position[particle] = velocity, position
        params = self.fresh(np.vstack([position, self.space.sample(self.rng, 64)]), pending)
        self._issued[self.space.key(params)] = particle
        return params

    def tell(self, params: Mapping[str, Any], outcome: Any, estimate: float | None = None) -> Any:
        outcome = super().tell(params, outcome, estimate)
        if outcome is None:
            return None
        key = self.space.key(params)
        particle = self._issued.pop(key, None)
        if particle is None:  # not ours (a replay): the particle with the worst memory learns it
            particle = int(np.argmax(self._own_loss))
        if outcome < self._own_loss[particle]:
            self._own_best[particle], self._own_loss[particle] = self.space.encode(params), outcome
        return outcome

"""Named attack methods as data: compositions of input transforms, one pixel objective, gradient
transforms and the step, plus flags (random start, FGSM's single step of size eps).

Methods compose with ``+`` (``"transegpgd+mi"`` or ``METHODS["ds"] + METHODS["mi"]``): input
transforms chain in the order written, gradient transforms chain in the order written, at most one
objective may differ from plain CE, and random start / one-step flags are OR-ed. Each part
declares its keyword parameters with a default and that default's source; :func:`describe`
lists them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from segrepro.attacks.grads import Momentum, TranslationInvariant
from segrepro.attacks.objectives import RPPGD, CosPGD, CrossEntropy, CWMargin, SegPGD, TranSegPGD
from segrepro.attacks.parts import GradTransform, InputTransform, Objective, Param, one_of
from segrepro.attacks.steps import STEPS
from segrepro.attacks.transforms import DiverseInputs, DynamicScaling, RegionShuffle, RegionZoom

# Parameters of the engine itself, valid for every method.
ENGINE_PARAMS: dict[str, Param] = {
    "step": Param("linf", "[paper: DS Eq. 3, RP-PGD Eq. 9]", "step rule: 'linf' sign step or 'l2' (ours)",
                  one_of(*STEPS)),
    "random_start": Param(None, "[method]", "override the method's random-start flag (None keeps it)",
                          one_of(None, True, False)),
    "amp": Param(False, "[ours]", "autocast forwards (float16 on CUDA, bfloat16 on CPU)", one_of(True, False)),
}


@dataclass(frozen=True)
class Method:
    """One attack method: the four parts and the flags.

    Attributes:
        name: the public name (``"a+b"`` for compositions).
        inputs: input transforms, applied in order.
        objective: the pixel objective.
        grads: gradient transforms, applied in order.
        random_start: start from ``clip(x + U(-eps, eps), 0, 1)``.
        one_step: FGSM: a single step with ``alpha = eps`` (``steps`` and ``alpha`` are overridden).
        source: where the method comes from.
    """

    name: str
    inputs: tuple[InputTransform, ...] = ()
    objective: Objective = field(default_factory=CrossEntropy)
    grads: tuple[GradTransform, ...] = ()
    random_start: bool = False
    one_step: bool = False
    source: str = ""

    def __add__(self, other: "Method | str") -> "Method":
        return compose(self, get_method(other))

    @property
    def parts(self) -> tuple:
        return (*self.inputs, self.objective, *self.grads)

    @property
    def params(self) -> dict[str, Param]:
        """Every keyword parameter this method accepts (its parts' and the engine's)."""
        merged: dict[str, Param] = {}
        for part in self.parts:
            merged.update(part.params)
        merged.update(ENGINE_PARAMS)
        return merged

    def resolve(self, overrides: dict) -> dict:
        """Defaults updated by ``overrides``; unknown names or invalid values raise with the valid ones."""
        params = self.params
        unknown = sorted(set(overrides) - set(params))
        if unknown:
            raise TypeError(f"method {self.name!r} got unknown parameter(s) {unknown}; "
                            f"valid parameters: {sorted(params)}")
        resolved = {name: overrides.get(name, p.default) for name, p in params.items()}
        for name in overrides:
            check = params[name].check
            message = check(overrides[name]) if check else None
            if message:
                raise ValueError(f"parameter {name!r} of method {self.name!r} {message}")
        return resolved


def compose(a: Method, b: Method) -> Method:
    """``a + b``: chain inputs and gradient transforms in order, keep the one non-CE objective."""
    names = [p.name for p in (*a.inputs, *b.inputs, *a.grads, *b.grads)]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"cannot compose {a.name!r} + {b.name!r}: part(s) {repeated} would appear twice")
    objectives = [m.objective for m in (a, b) if not isinstance(m.objective, CrossEntropy)]
    if len(objectives) == 2:
        raise ValueError(f"cannot compose {a.name!r} + {b.name!r}: two pixel objectives "
                         f"({objectives[0].name!r} and {objectives[1].name!r}); a method has at most one")
    objective = objectives[0] if objectives else a.objective
    inputs = (*a.inputs, *b.inputs)
    if inputs and not objective.geometry_safe:
        raise ValueError(f"cannot compose {a.name!r} + {b.name!r}: {objective.name!r} keeps per-pixel state on "
                         f"the native grid across iterations, which input transforms "
                         f"{[t.name for t in inputs]} change every iteration")
    return Method(name=f"{a.name}+{b.name}", inputs=inputs, objective=objective, grads=(*a.grads, *b.grads),
                  random_start=a.random_start or b.random_start, one_step=a.one_step or b.one_step,
                  source=f"composition of {a.name!r} and {b.name!r}")


METHODS: dict[str, Method] = {m.name: m for m in [
    Method("fgsm", one_step=True, source="[ref: Goodfellow et al. 2015] one step, alpha = eps"),
    Method("bim", source="[paper: DS Eq. 3-4] BIM, no random start, CE"),
    Method("fs", source="[paper: DS] fixed-scale BIM (alias of bim)"),
    Method("pgd", random_start=True, source="[ref: Madry et al. 2018; RP-PGD Eq. 8] BIM + random start"),
    Method("mi", grads=(Momentum(),), source="[ref: Dong et al. CVPR 2018] MI-FGSM"),
    Method("di", inputs=(DiverseInputs(),), source="[ours, after Xie et al. CVPR 2019] DI for segmentation"),
    Method("ti", grads=(TranslationInvariant(),), source="[ref: Dong et al. CVPR 2019] TI-FGSM"),
    Method("segpgd", objective=SegPGD(), random_start=True, source="[ref: Gu et al. ECCV 2022] SegPGD"),
    Method("cospgd", objective=CosPGD(), random_start=True, source="[ref: Agnihotri et al. ICML 2024] CosPGD"),
    Method("ds", inputs=(DynamicScaling(),), source="[paper: 001 Eq. 5] Dynamic Scaling"),
    Method("transegpgd", objective=TranSegPGD(), source="[paper: 002 summary; details ours] TranSegPGD"),
    Method("segtrans", inputs=(RegionShuffle(),), source="[paper: 000 abstract; ours] SegTrans region shuffle"),
    Method("segtrans_zoom", inputs=(RegionZoom(),), source="[ours] SegTrans zoom variant"),
    Method("rp_pgd", objective=RPPGD(), random_start=True, source="[paper: 004 Eqs. 3-9, Alg. 1] RP-PGD"),
    Method("cw", objective=CWMargin(), random_start=True,
           source="[ref: Carlini & Wagner 2017 f6 margin; L-inf PGD steps, ours] CW-style (RP-PGD Tables 4-5)"),
]}


def available() -> list[str]:
    """The public method names (compose any of them with ``+``)."""
    return list(METHODS)


def get_method(method: "str | Method") -> Method:
    """The :class:`Method` for a name such as ``"transegpgd+mi"`` or a :class:`Method` itself."""
    if isinstance(method, Method):
        return method
    if not isinstance(method, str):
        raise TypeError(f"method must be a name or a Method, got {type(method).__name__}")
    names = [n.strip().lower() for n in method.split("+")]
    unknown = [n for n in names if n not in METHODS]
    if unknown:
        raise ValueError(f"unknown method name(s) {unknown} in {method!r}; available: {available()}")
    result = METHODS[names[0]]
    for name in names[1:]:
        result = compose(result, METHODS[name])
    return result


def describe(method: "str | Method") -> list[dict]:
    """Rows ``{parameter, default, source, doc, part}`` for every parameter of ``method``."""
    m = get_method(method)
    rows = [dict(parameter=n, default=p.default, source=p.source, doc=p.doc, part=part.name)
            for part in m.parts for n, p in part.params.items()]
    rows += [dict(parameter=n, default=p.default, source=p.source, doc=p.doc, part="engine")
             for n, p in ENGINE_PARAMS.items()]
    return rows

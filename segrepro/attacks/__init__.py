"""Adversarial attacks on segmentation models: one loop, every method of the four papers.

Public API::

    from segrepro.attacks import attack, available
    adv = attack(model, images, labels, "transegpgd+mi", eps=0.03, alpha=0.01, steps=10)
    snaps = attack(model, images, labels, "ds", steps=100, snapshots=[10, 50, 100])

``objectives`` holds the equation-level functions (``segpgd_weights``, ``cospgd_weights``,
``weighted_ce``, ``rppgd_lambdas``, ``prototype_loss``), ``transforms`` the input transforms
(``dynamic_scale``, ``region_shuffle``, ``region_zoom``, ``diverse_input``).
"""
from segrepro.attacks import objectives, transforms
from segrepro.attacks.context import AttackContext
from segrepro.attacks.engine import attack
from segrepro.attacks.methods import METHODS, Method, available, compose, describe, get_method

__all__ = ["attack", "available", "describe", "get_method", "compose", "Method", "METHODS", "AttackContext",
           "objectives", "transforms"]

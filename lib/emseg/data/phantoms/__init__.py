"""Synthetic data with exact ground truth, so that every workflow runs offline: the
platelet phantom (:mod:`~emseg.data.phantoms.platelet`), the ECS phantom
(:mod:`~emseg.data.phantoms.ecs`) and the neuron phantom
(:mod:`~emseg.data.phantoms.neuron`)."""
from emseg.data.phantoms.ecs import ECS_VOXEL_SIZE, ecs_phantom, ecs_phantom_labels, render_ecs_image
from emseg.data.phantoms.neuron import (NeuronStack, neuron_phantom, neuron_pool, neuron_tree,
                                        render_densest, render_neuron)
from emseg.data.phantoms.platelet import phantom_labels, platelet_phantom, render_image

__all__ = ["platelet_phantom", "phantom_labels", "render_image", "ecs_phantom",
           "ecs_phantom_labels", "render_ecs_image", "ECS_VOXEL_SIZE", "NeuronStack",
           "neuron_tree", "render_neuron", "neuron_phantom", "neuron_pool", "render_densest"]

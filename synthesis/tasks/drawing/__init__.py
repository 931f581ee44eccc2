"""Drawing helpers of the task families: seeded randomness, colours, fonts, boxes, shapes, backgrounds,
clutter, scenes, documents and charts, plus deterministic encoding and a preview grid.

No module here defines a family.
"""

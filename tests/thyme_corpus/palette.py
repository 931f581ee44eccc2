"""The named colours the scenes use (RGB)."""

RED, BLUE, GREEN, YELLOW = (205, 30, 35), (30, 80, 200), (30, 150, 60), (240, 200, 30)
WHITE, BLACK, GREY, ORANGE, PURPLE = (
    (250, 250, 250),
    (20, 20, 20),
    (128, 128, 128),
    (240, 130, 20),
    (130, 50, 160),
)

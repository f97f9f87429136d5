"""Multi-choice evaluation: which of two replies is better (CValues automatic evaluation).

``extract`` reads a verdict out of a model's answer, ``metrics`` computes acc/acc* and what the official
scripts lacked, ``official`` scores files in the official format; templates and the runner live beside.
"""

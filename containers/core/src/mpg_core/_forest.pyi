import numpy as np

def predict(
    x: np.ndarray,
    nodes: np.ndarray,
    value: np.ndarray,
    roots: np.ndarray,
    depths: np.ndarray,
    out: np.ndarray,
) -> None: ...

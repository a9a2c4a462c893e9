import numpy as np

def predict(
    x: np.ndarray,
    nodes: np.ndarray,
    node_bytes: int,
    value: np.ndarray,
    roots: np.ndarray,
    depths: np.ndarray,
    out: np.ndarray,
    start: float,
    divisor: float,
) -> bool: ...
def predict_columns(
    x: np.ndarray,
    nodes: np.ndarray,
    node_bytes: int,
    value: np.ndarray,
    roots: np.ndarray,
    depths: np.ndarray,
    column: np.ndarray,
    out: np.ndarray,
    divisor: float,
) -> None: ...
def predict_missing(
    x: np.ndarray,
    nodes: np.ndarray,
    node_bytes: int,
    nan_left: np.ndarray,
    value: np.ndarray,
    roots: np.ndarray,
    column: np.ndarray,
    out: np.ndarray,
    divisor: float,
) -> None: ...

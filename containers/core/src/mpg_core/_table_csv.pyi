from collections.abc import Mapping, Sequence

import numpy as np

def hash_key(key: bytes) -> int: ...

class TableCsv:
    def __init__(
        self,
        targets: Sequence[int],
        tables: Sequence[int],
        numbers: Sequence[bool],
        unseen: Sequence[float],
        keys: Sequence[Mapping[bytes, float]],
    ) -> None: ...
    def read(self, body: bytes, out: np.ndarray) -> bool: ...

"""`toylab map FOLDER`: the feature map of any saved dictionary — an SAE folder (toylab's or SAELens')
or every dictionary of a run folder — with its structure against random placement.

For each dictionary: a blind 2-D UMAP of its decoder rows (cosine; `sae.readers.feature_map`) drawn
as a figure, and T, the clustering of its k-nearest-neighbour graph, against the same latents placed
at random (`feature_map.structure_test`). The second question of the feature-map study (do the
latents' co-firing statistics predict the placement?) needs codes on samples, so it is asked there and
not here. Everything is computed before anything is written: a refused dictionary leaves no folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from toys.engine.config import ConfigError


def dictionaries(folder: Path) -> list[Path]:
    """The SAE folders under FOLDER: itself (it holds cfg.json) or a run's dictionaries/<name>/."""
    folder = Path(folder)
    if (folder / "cfg.json").exists():
        return [folder]
    saved = folder / "dictionaries"
    found = sorted(p for p in saved.iterdir() if (p / "cfg.json").exists()) if saved.is_dir() else []
    if not found:
        raise ConfigError(
            f"map: {folder} is neither an SAE folder (cfg.json inside) nor a run folder with saved "
            "dictionaries (dictionaries/<name>/cfg.json)"
        )
    return found


def feature_maps(folder: Path, seed: int, neighbours: int, umap_neighbors: int, n_null: int) -> list[dict]:
    """One entry per dictionary: its name, m, T with the random-placement band, and the map's points."""
    from sae import saelens_format
    from sae.readers import feature_map

    entries = []
    for path in dictionaries(folder):
        decoder = np.asarray(saelens_format.load(path).params.W_dec, np.float64)
        try:
            # a saved dictionary alone: no toy and no truth here, so no wall to cross (the study's verdict,
            # which is graded, goes through wall.apply)
            test = feature_map.structure_test(decoder, seed, neighbours, n_null)
            if umap_neighbors >= len(decoder):
                raise ValueError(f"decoder: got {len(decoder)} latents, allowed more than --umap-neighbors = {umap_neighbors}")
            points = feature_map.umap_embedding(decoder, umap_neighbors, seed)
        except ValueError as error:
            raise ConfigError(f"{path}: {error}") from None
        entries.append(
            {
                "name": path.name,
                "folder": str(path),
                "latents": int(len(decoder)),
                "structure": test.structure,
                "random_null_95": test.threshold,
                "random_null_mean": float(test.random_null.mean()),
                "structured": test.structured,
                "points": points,
            }
        )
    return entries


def write(entries: list[dict], out: Path, seed: int, neighbours: int, umap_neighbors: int) -> Path:
    import matplotlib.pyplot as plt

    from experiments.runner import runfolder

    folder = runfolder.new_run_folder(out, "map", seed, False)
    (folder / "figures").mkdir()
    for entry in entries:
        figure, ax = plt.subplots(figsize=(4.4, 4.4))
        points = entry["points"]
        ax.scatter(points[:, 0], points[:, 1], s=10, color="0.25")
        ax.set_xticks([])
        ax.set_yticks([])
        verdict = "structured" if entry["structured"] else "no more structured than random placement"
        ax.set_title(
            f"{entry['name']}: UMAP of {entry['latents']} decoder rows (cosine, n_neighbors {umap_neighbors}, "
            f"seed {seed})\nT = {entry['structure']:.3f} against random placement's 95% point "
            f"{entry['random_null_95']:.3f}: {verdict}",
            fontsize=7,
        )
        runfolder.save_figure(figure, folder / "figures" / f"{entry['name']}.png")
    runfolder.write_json(
        folder / "results.json",
        {
            "seed": seed,
            "neighbours": neighbours,
            "umap_neighbors": umap_neighbors,
            "dictionaries": [{key: value for key, value in entry.items() if key != "points"} for entry in entries],
        },
    )
    return folder


def summary(entries: list[dict], neighbours: int) -> str:
    lines = [
        f"feature maps (T: clustering of the {neighbours}-nearest-neighbour graph of decoder rows; band: random "
        "placement of the same latents, 95% point)"
    ]
    for entry in entries:
        lines.append(
            f"  {entry['name']:32s} m = {entry['latents']:5d}  T = {entry['structure']:.3f}  band "
            f"{entry['random_null_95']:.3f}  {'structured' if entry['structured'] else 'not structured'}"
        )
    return "\n".join(lines)

"""GeoCLOSP (chapter 7): harmonics, SIREN, the four-term loss, training, locate and the --near filter."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import sph_harm_y

from closp_lite import geolocation as geo
from closp_lite.cli import main
from closp_lite.data.format import CorpusWriter
from closp_lite.losses import ClospLoss, GeoClospLoss, contrastive_loss, make_loss
from closp_lite.models.closp import CLOSP, ModelConfig, build_model
from closp_lite.models.geoclosp import GeoCLOSP
from closp_lite.models.location import (
    LocationEncoder,
    Sine,
    harmonic_index,
    siren,
    spherical_harmonics,
)
from closp_lite.simulate.geography import pixel_coords

# Two places far apart (Finland, Portugal) so that location is informative in the toy corpus.
PLACES = {"north": (25.0, 63.0), "south": (-8.0, 39.0)}


def _scipy_real(lonlat: np.ndarray) -> np.ndarray:
    theta, phi = np.radians(lonlat[:, 1] + 90), np.radians(lonlat[:, 0] + 180)
    columns = []
    for degree, m in harmonic_index():
        y = sph_harm_y(degree, abs(m), theta, phi)  # complex, with the Condon-Shortley phase
        part = y.real if m >= 0 else y.imag
        columns.append(part if m == 0 else math.sqrt(2) * (-1) ** m * part)
    return np.stack(columns, axis=1)


def test_harmonics_match_scipy_including_poles_and_date_line() -> None:
    rng = np.random.default_rng(0)
    special = [
        [0, 90],
        [0, -90],
        [180, 0],
        [-180, 0],
        [179.9999, 45],
        [-179.9999, -45],
        [37, 89.9999],
    ]
    points = np.concatenate([np.c_[rng.uniform(-180, 180, 300), rng.uniform(-90, 90, 300)], special])
    ours = spherical_harmonics(torch.tensor(points)).numpy()
    assert ours.shape == (len(points), 100)
    assert np.abs(ours - _scipy_real(points)).max() < 1e-6
    # lon 180 and -180 are the same meridian
    assert np.allclose(ours[len(points) - 5], ours[len(points) - 4], atol=1e-12)


def test_harmonics_are_orthonormal_by_quadrature() -> None:
    nodes, weights = np.polynomial.legendre.leggauss(20)  # exact in cos(theta) up to degree 39
    phis = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    theta, phi = np.meshgrid(np.arccos(nodes), phis, indexing="ij")
    lonlat = np.c_[np.degrees(phi.ravel()) - 180, np.degrees(theta.ravel()) - 90]
    y = spherical_harmonics(torch.tensor(lonlat)).numpy()
    w = (weights[:, None] * np.full(len(phis), 2 * np.pi / len(phis))).ravel()
    gram = (y * w[:, None]).T @ y
    assert np.abs(gram - np.eye(100)).max() < 1e-10


def test_siren_shape_init_and_frozen_default() -> None:
    torch.manual_seed(0)
    net = siren()
    first, second = net[0], net[1]
    assert isinstance(first, Sine) and first.w0 == 30 and second.w0 == 1
    assert first.linear.weight.abs().max() <= 1 / 100 and second.linear.weight.abs().max() <= math.sqrt(6 / 256)
    assert net[2].p == 0.5 and net[3].out_features == 256
    encoder = LocationEncoder()
    assert not any(p.requires_grad for p in encoder.siren.parameters())
    assert all(p.requires_grad for p in encoder.projection.parameters())
    assert all(p.requires_grad for p in LocationEncoder(trainable=True).parameters())
    out = encoder.eval()(torch.tensor([[12.5, 41.9], [-122.0, 37.0]]))
    assert out.shape == (2, 384) and torch.allclose(out.norm(dim=1), torch.ones(2))
    with pytest.raises(ValueError, match="swapped"):
        encoder(torch.tensor([[45.0, 120.0]]))


def test_four_term_loss_is_the_mean_of_the_two_halves() -> None:
    g = torch.Generator().manual_seed(0)
    img, txt, loc = (torch.nn.functional.normalize(torch.randn(6, 384, generator=g), dim=1) for _ in range(3))
    value = GeoClospLoss().features_loss((img, txt, loc))
    ce = torch.nn.functional.cross_entropy
    labels = torch.arange(6)
    s_it, s_li = img @ txt.T, loc @ img.T
    expected = (ce(s_it, labels) + ce(s_it.T, labels) + ce(s_li, labels) + ce(s_li.T, labels)) / 4
    assert torch.isclose(value, expected)
    assert torch.isclose(value, (contrastive_loss(img, txt) + contrastive_loss(loc, img)) / 2)
    total, parts = GeoClospLoss(label_aware=True)({"s1": (img, txt, loc)}, {"s1": ["a"] * 6})
    assert set(parts) == {"s1"} and total < value + 1  # label-aware targets lower the text half
    assert isinstance(make_loss("closp"), ClospLoss) and isinstance(make_loss("geoclosp"), GeoClospLoss)
    with pytest.raises(ValueError, match="location"):
        GeoClospLoss().features_loss((img, txt))
    with pytest.raises(ValueError, match="GeoClospLoss"):
        ClospLoss()({"s1": (img, txt, loc)})


def test_model_kind_round_trip_and_torchgeo_geoclosp_weights(tmp_path: Path) -> None:
    model = build_model(ModelConfig(width=4, kind="geoclosp"))
    assert isinstance(model, GeoCLOSP)
    batch = {
        "text": ["water", "crops"],
        "lonlat": torch.tensor([[25.0, 63.0], [-8.0, 39.0]]),
    }
    feats = model.features(torch.zeros(2, 2, 120, 120), batch)
    assert len(feats) == 3 and all(f.shape == (2, 384) for f in feats)
    assert len(CLOSP(ModelConfig(width=4)).features(torch.zeros(2, 2, 120, 120), batch)) == 2
    model.save(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["kind"] == "geoclosp"
    loaded = CLOSP.load(tmp_path / "run")
    assert isinstance(loaded, GeoCLOSP)
    assert torch.equal(loaded.location.siren[0].linear.weight, model.location.siren[0].linear.weight)
    with pytest.raises(ValueError, match="kind"):
        build_model(ModelConfig(kind="other"))  # type: ignore[arg-type]


def test_geoclosp_weight_enums_are_shape_checked(tmp_path: Path) -> None:
    from closp_lite.models.image import ImageTower, tower_for, weights_enum

    for name in ("SENTINEL1_GRD_GEOCLOSP", "SENTINEL2_ALL_GEOCLOSP"):
        assert "geoclosp" in str(weights_enum("resnet50", name).url).lower()  # type: ignore[attr-defined]
    tower = ImageTower(tower_for("s1", "resnet50"))
    state = {k: torch.zeros_like(v) for k, v in tower.backbone.state_dict().items()}
    torch.save(state, tmp_path / "geoclosp_s1.pt")
    model = GeoCLOSP(ModelConfig(arch="resnet50", weights={"s1": str(tmp_path / "geoclosp_s1.pt")}))
    assert float(model.towers["s1"].backbone.conv1.weight.detach().abs().sum()) == 0.0
    state["conv1.weight"] = torch.zeros(64, 13, 7, 7)  # an S2 stem for the S1 tower
    torch.save(state, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match="conv1.weight"):
        GeoCLOSP(ModelConfig(arch="resnet50", weights={"s1": str(tmp_path / "wrong.pt")}))


def test_haversine_centroid_and_near() -> None:
    assert geo.haversine_km(np.array([0.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(111.19, abs=0.05)
    assert geo.haversine_km(np.array([179.5, 0.0]), np.array([-179.5, 0.0])) == pytest.approx(111.19, abs=0.05)
    assert np.allclose(geo.spherical_centroid(np.array([[179.0, 0.0], [-179.0, 0.0]])), [180.0, 0.0]) or np.allclose(
        geo.spherical_centroid(np.array([[179.0, 0.0], [-179.0, 0.0]])), [-180.0, 0.0]
    )
    mask = geo.near_mask(np.array([[12.5, 41.9], [12.6, 41.9], [2.35, 48.85]]), (12.5, 41.9), 50)
    assert mask.tolist() == [True, True, False]
    summary = geo.error_summary(np.array([50.0, 200.0, 600.0, 1000.0]))
    assert summary["within_100km"] == 25.0 and summary["within_500km"] == 50.0 and summary["median_km"] == 400.0
    grid = geo.candidate_grid(np.array([[0.0, 0.0], [2.0, 1.0]]), step_deg=1.0, pad_deg=0.0)
    assert len(grid) == 6


@pytest.fixture
def corpus(tmp_path: Path, make_patch) -> Path:  # type: ignore[no-untyped-def]
    root = tmp_path / "corpus"
    with CorpusWriter(root) as writer:
        for modality in ("s1", "s2"):
            for i in range(12):
                place = "north" if i % 2 else "south"
                patch = make_patch(
                    f"{modality}_{place}_{i}",
                    modality,
                    ["Coniferous forest"] if i % 2 else ["Olive groves"],
                    seed=i,
                )
                crs, coords = pixel_coords(*PLACES[place])
                patch = replace(patch, crs=crs, coords=coords)
                writer.add(patch, shard=f"toy{modality}", split="train" if i < 8 else "test")
    return root


def test_train_locate_search_near_evaluate_cli(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    flags = [
        "--mode",
        "tiny",
        "--data",
        str(corpus),
        "--epochs",
        "3",
        "--batch-size",
        "4",
        "--json",
    ]
    assert main(["train", "--out", str(run), "--model", "geoclosp", *flags]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == "geoclosp"
    assert json.loads((run / "train_config.json").read_text())["model"]["kind"] == "geoclosp"
    assert (
        main(
            [
                "locate",
                "s2_north_9",
                "--run",
                str(run),
                "--data",
                str(corpus),
                "--k",
                "3",
                "--json",
            ]
        )
        == 0
    )
    located = json.loads(capsys.readouterr().out)
    assert located["true"] == pytest.approx(PLACES["north"], abs=0.01) and len(located["guesses"]) == 3
    assert all(g["error_km"] >= 0 for g in located["guesses"])
    near = [
        "search",
        "forest",
        "--run",
        str(run),
        "--data",
        str(corpus),
        "--near",
        "25,63",
        "--radius-km",
        "100",
        "--json",
    ]
    assert main(near) == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert rows and all("north" in r["key"] and r["distance_km"] < 100 for r in rows)
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    with pytest.raises(SystemExit):
        main(
            [
                "search",
                "forest",
                "--run",
                str(run),
                "--data",
                str(corpus),
                "--near",
                "25,95",
            ]
        )  # latitude > 90
    assert main(["evaluate", str(run), "--data", str(corpus), "--json"]) == 1  # no queries.jsonl: one clear error
    assert "queries" in capsys.readouterr().err
    closp_run = tmp_path / "closp"
    assert main(["train", "--out", str(closp_run), *flags]) == 0
    capsys.readouterr()
    assert main(["locate", "s2_north_9", "--run", str(closp_run), "--data", str(corpus)]) == 1
    assert "--model geoclosp" in capsys.readouterr().err


def test_geolocate_reports_model_and_baseline(corpus: Path, tmp_path: Path) -> None:
    from closp_lite.training import TrainConfig, train

    config = TrainConfig(
        mode="tiny",
        data=str(corpus),
        epochs=3,
        batch_size=4,
        model=ModelConfig(width=4, kind="geoclosp"),
    )
    train(config, tmp_path / "run", progress=False)
    result = geo.geolocate(CLOSP.load(tmp_path / "run"), corpus)  # type: ignore[arg-type]
    assert result["n_images"] == 8 and result["n_candidates"] == 16
    for name in ("model", "centroid", "nearest_candidate"):
        assert set(result[name]) == {"all", "s1", "s2"}
    assert result["nearest_candidate"]["all"]["median_km"] < 1.0  # candidates sit on the two places
    assert result["centroid"]["all"]["within_100km"] == 0.0  # the centroid lies between them
    errors = geo.haversine_km(np.array(result["guess"]), np.array(result["true"]))
    assert np.median(errors) == pytest.approx(result["model"]["all"]["median_km"])


class PlaceVectors(torch.nn.Module):
    """A location tower with a known answer: a place's unit 3-D vector, zero-padded to 384-d.

    The cosine of two such vectors is the cosine of the angle between the places, so ranking
    candidates by similarity is ranking them by great-circle distance.
    """

    def encode_location(self, lonlat: torch.Tensor) -> torch.Tensor:
        lon, lat = torch.deg2rad(lonlat.double()).T
        xyz = torch.stack([lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()], dim=1)
        return torch.nn.functional.pad(xyz, (0, 381)).float()


def test_geolocate_on_a_toy_case_with_known_answers(corpus: Path) -> None:
    from closp_lite.index import EmbeddingIndex

    where = geo.corpus_lonlats(corpus, "test")
    keys = sorted(where)
    truth = np.array([where[k] for k in keys])
    tower = PlaceVectors()

    def located(images: np.ndarray) -> dict:
        index = EmbeddingIndex(images, keys, [k[:2] for k in keys], [[] for _ in keys])
        return geo.geolocate(tower, corpus, index=index)  # type: ignore[arg-type]

    def place_vectors(places: np.ndarray) -> np.ndarray:
        return tower.encode_location(torch.as_tensor(places)).numpy()

    # An image that knows its place: every guess is the nearest candidate, far better than the centroid.
    oracle = located(place_vectors(truth))
    assert oracle["model"]["all"] == oracle["nearest_candidate"]["all"]
    assert oracle["model"]["all"]["within_100km"] == 100.0 > oracle["centroid"]["all"]["within_500km"]
    # An image that always points at the other place: every error is the distance between the two places.
    swapped = located(place_vectors(np.array([PLACES["south" if "north" in k else "north"] for k in keys])))
    apart = geo.haversine_km(np.array(PLACES["north"]), np.array(PLACES["south"]))
    assert swapped["model"]["all"]["median_km"] == pytest.approx(apart, rel=1e-3)
    assert swapped["model"]["all"]["median_km"] > swapped["centroid"]["all"]["median_km"] > oracle["model"]["all"]["median_km"]
    # The centroid baseline does not depend on the model, and sits between the two places.
    assert swapped["centroid"] == oracle["centroid"]
    assert oracle["centroid"]["all"]["median_km"] == pytest.approx(apart / 2, rel=0.05)


def test_geography_and_harmonics_figures() -> None:
    from matplotlib.patches import Rectangle

    from closp_lite.plotting import plot_geography, plot_harmonics
    from closp_lite.simulate.geography import REGIONS

    fig = plot_geography()
    boxes = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and p.get_width() > 0]
    assert len(boxes) == len(REGIONS)
    heat = fig.axes[1].images[0].get_array()
    assert heat.shape == (len(REGIONS), 9) and np.allclose(heat.sum(axis=1), 1.0)
    fig = plot_harmonics(((1, 0), (2, 1)), step_deg=10.0)
    grid = fig.axes[0].collections[0].get_array().reshape(19, 37)
    assert grid[0, 0] > 0 > grid[-1, 0]  # Y_1^0 = cos(theta) with theta = 0 at the south pole

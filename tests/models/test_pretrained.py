"""A trained recognizer's checkpoint as the backbone of a new model (MMAction2 FAQ)."""

import pytest
import torch

from vidlab.checkpoint import save_checkpoint
from vidlab.models import create_model
from vidlab.models.tsm import ResNetTSM


def test_recognizer_checkpoint_initialises_a_backbone(tmp_path):
    trained = create_model("tsm_r18_1x1x8", num_classes=5)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)  # anything but the fresh init
    path = tmp_path / "recognizer.pth"
    save_checkpoint(path, {"meta": {"epoch": 1}, "state_dict": trained.state_dict()})

    backbone = ResNetTSM(depth=18, pretrained=str(path))
    backbone.init_weights()
    for key, value in backbone.state_dict().items():
        assert torch.equal(value, trained.state_dict()[f"backbone.{key}"]), key


def test_checkpoint_that_fits_nothing_is_an_error(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(3, 3)}}, path)
    with pytest.raises(ValueError, match="none of the 1 tensors"):
        ResNetTSM(depth=18, pretrained=str(path)).init_weights()


# --- URLs: fetched when training starts, into $VIDLAB_HOME, hash-checked; never while building


class _Server:
    """A file server on 127.0.0.1 that counts the requests it answers."""

    def __init__(self, root):
        import functools
        import http.server
        import threading

        outer = self
        self.requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests.append(self.path)
                if self.path.startswith("/short/"):  # the connection drops half-way
                    data = (root / self.path[len("/short/") :]).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.close_connection = True
                    return
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A torchvision-layout ResNet-18 file, named with its SHA-256 prefix, on a local server."""
    import hashlib

    from test_resnet import _torchvision_state_dict

    root = tmp_path / "www"
    root.mkdir()
    sd = _torchvision_state_dict(18)
    raw = root / "raw.pth"
    torch.save(sd, raw)
    name = f"resnet18-{hashlib.sha256(raw.read_bytes()).hexdigest()[:8]}.pth"
    raw.rename(root / name)
    (root / "resnet18-deadbeef.pth").write_bytes((root / name).read_bytes())  # wrong hash
    # MMAction2's published names carry the hash after the date stamp
    (root / "tsm_r18_20220906-deadbeef.pth").write_bytes((root / name).read_bytes())
    (root / "plain.pth").write_bytes((root / name).read_bytes())  # no hash in the name
    monkeypatch.setenv("VIDLAB_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    server = _Server(root)
    yield server, name, sd
    server.close()


def test_url_is_fetched_once_at_init_not_while_building(served, tmp_path):
    from vidlab.config import build

    server, name, sd = served
    url = server.url + name
    node = dict(type="ResNet", depth=18, pretrained=url)
    backbone = build(node)
    assert server.requests == []  # building (and so printing or validating) fetches nothing
    report = backbone.init_weights()
    assert server.requests == [f"/{name}"]
    assert report.unexpected == ["fc.weight", "fc.bias"] and not report.missing
    assert torch.equal(backbone.state_dict()["conv1.conv.weight"], sd["conv1.weight"])
    assert (tmp_path / "home" / "checkpoints" / name).is_file()
    build(node).init_weights()  # from the cache
    assert len(server.requests) == 1
    model = create_model("tsn_r18_1x1x8", num_classes=3, pretrained=url)  # loads at once
    assert torch.equal(model.backbone.state_dict()["conv1.conv.weight"], sd["conv1.weight"])


def test_torchvision_names_fetch_the_imagenet_file(served, monkeypatch):
    from vidlab.models import pretrained

    server, name, sd = served
    monkeypatch.setitem(pretrained._TORCHVISION_FILES, "resnet18", (name,))
    monkeypatch.setattr(pretrained, "TORCHVISION_URL", server.url)
    backbone = ResNetTSM(depth=18, num_segments=4, pretrained="torchvision://resnet18")
    backbone.init_weights()
    assert torch.equal(
        backbone.state_dict()["layer1.0.conv1.conv.net.weight"], sd["layer1.0.conv1.weight"]
    )


@pytest.mark.parametrize("name", ["resnet18-deadbeef.pth", "tsm_r18_20220906-deadbeef.pth"])
def test_a_file_whose_hash_differs_from_its_name_is_refused(served, tmp_path, name):
    server, _, _ = served
    for _ in range(2):  # and again: nothing of the first try is taken for the file
        with pytest.raises(ValueError, match="SHA-256 .* does not start with 'deadbeef'"):
            ResNetTSM(depth=18, pretrained=server.url + name).init_weights()
        assert not list((tmp_path / "home" / "checkpoints").iterdir())  # nothing kept
    assert len(server.requests) == 2


@pytest.mark.parametrize("name", ["plain.pth", "hashed"])
def test_a_transfer_cut_short_is_an_error_and_leaves_nothing(served, tmp_path, name):
    server, hashed, sd = served
    name = hashed if name == "hashed" else name
    url = server.url + "short/" + name
    with pytest.raises(ValueError, match=r"could not download .*stopped after \d+ of \d+ bytes"):
        ResNetTSM(depth=18, pretrained=url).init_weights()
    cache = tmp_path / "home" / "checkpoints"
    assert not list(cache.iterdir())  # no partial file, under its name or any other
    backbone = ResNetTSM(depth=18, pretrained=server.url + name)  # the whole file: fine
    backbone.init_weights()
    assert torch.equal(backbone.state_dict()["conv1.conv.weight"], sd["conv1.weight"])
    assert [p.name for p in cache.iterdir()] == [name]


def test_printing_or_validating_a_config_fetches_nothing(served, tmp_path):
    import os
    import subprocess
    import sys

    import vidlab
    from vidlab.config import load_config, validate

    server, name, _ = served
    quickstart = os.path.join(
        os.path.dirname(vidlab.__file__), "configs", "quickstart", "tsm_r18_synthetic_motion.py"
    )
    option = f"model.backbone.pretrained={server.url + name}"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "vidlab.cli.main",
            "print-config",
            quickstart,
            "--cfg-options",
            option,
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert server.url + name in proc.stdout
    validate(load_config(quickstart, cfg_options=[option]))
    assert server.requests == []
    assert not (tmp_path / "home" / "checkpoints").exists()


def test_offline_names_the_url_and_where_to_put_the_file(served, tmp_path):
    server, name, _ = served
    url = server.url + name
    server.close()  # nothing listens there any more
    with pytest.raises(ValueError, match="could not download") as err:
        ResNetTSM(depth=18, pretrained=url).init_weights()
    assert url in str(err.value) and "\n" not in str(err.value)  # one line
    assert str(tmp_path / "home" / "checkpoints" / name) in str(err.value)

"""The batch's compiled templates kept between runs (shell.batch.template_cache)."""

import os
import pickle

import pytest

from relief_kit.shell.batch import template_cache
from relief_kit.text import render


@pytest.fixture
def compiles(monkeypatch):
    """Counts the compilations of the kit's templates."""
    calls = []
    real = render.compile_templates

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(render, "compile_templates", counted)
    return calls


def test_a_second_run_takes_the_cached_templates_without_compiling(tmp_path, compiles):
    cache, run = tmp_path / "cache", tmp_path / "run"
    run.mkdir()
    first = template_cache.compiled_templates_file(run, cache)
    assert first is not None and first.parent == cache and len(compiles) == 1
    assert oct(cache.stat().st_mode & 0o777) == "0o700"  # the user's alone
    entries = pickle.loads(first.read_bytes())
    assert entries == render.compile_templates()  # what the kernels were handed before
    compiles.clear()
    assert template_cache.compiled_templates_file(run, cache) == first
    assert compiles == [] and not list(run.iterdir())


def test_a_changed_key_compiles_again_and_forgets_the_old_file(tmp_path, compiles,
                                                              monkeypatch):
    cache = tmp_path / "cache"
    old = template_cache.compiled_templates_file(tmp_path, cache)
    monkeypatch.setattr(template_cache, "templates_key", lambda: "f" * 64)  # an edit
    new = template_cache.compiled_templates_file(tmp_path, cache)
    assert new != old and len(compiles) == 2
    assert [p.name for p in cache.iterdir()] == [new.name]


def test_the_key_follows_the_templates_text(tmp_path, monkeypatch):
    templates = tmp_path / "templates"
    (templates / "views").mkdir(parents=True)
    page = templates / "views" / "page.html"
    page.write_text("<p>{{ x }}</p>", encoding="utf-8")
    monkeypatch.setattr(template_cache.resources, "TEMPLATES", templates)
    before = template_cache.templates_key()
    assert template_cache.templates_key() == before
    page.write_text("<p>{{ x }}!</p>", encoding="utf-8")
    assert template_cache.templates_key() != before


@pytest.mark.parametrize("mode", [0o777, 0o770])
def test_a_cache_others_can_write_is_neither_read_nor_written(tmp_path, compiles, mode):
    cache, run = tmp_path / "cache", tmp_path / "run"
    cache.mkdir()
    run.mkdir()
    planted = cache / f"{template_cache.PREFIX}{template_cache.templates_key()[:40]}.pickle"
    planted.write_bytes(pickle.dumps({"x": b"not ours"}))
    cache.chmod(mode)
    got = template_cache.compiled_templates_file(run, cache)
    assert got == run / "templates.pickle" and len(compiles) == 1  # compiled, in the run
    assert pickle.loads(planted.read_bytes()) == {"x": b"not ours"}  # left alone


def test_a_cached_file_others_can_write_is_compiled_over(tmp_path, compiles):
    cache = tmp_path / "cache"
    first = template_cache.compiled_templates_file(tmp_path, cache)
    first.chmod(0o666)
    again = template_cache.compiled_templates_file(tmp_path, cache)
    assert again == first and len(compiles) == 2
    assert not os.stat(again).st_mode & 0o022  # replaced by a file of the user's


def test_a_cache_that_cannot_be_made_falls_back_to_the_run_folder(tmp_path, compiles):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    run = tmp_path / "run"
    run.mkdir()
    got = template_cache.compiled_templates_file(run, blocker / "cache")
    assert got == run / "templates.pickle"
    assert pickle.loads(got.read_bytes()) == render.compile_templates()


def test_the_folder_can_be_named_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(template_cache.CACHE_ENV, str(tmp_path / "elsewhere"))
    assert template_cache.cache_folder() == tmp_path / "elsewhere"
    monkeypatch.delenv(template_cache.CACHE_ENV)
    assert template_cache.cache_folder().name == "relief-kit"


def test_a_damaged_cached_file_is_compiled_over(tmp_path, compiles):
    cache = tmp_path / "cache"
    first = template_cache.compiled_templates_file(tmp_path, cache)
    first.write_bytes(first.read_bytes()[:100])  # cut short
    again = template_cache.compiled_templates_file(tmp_path, cache)
    assert again == first and len(compiles) == 2
    assert pickle.loads(again.read_bytes()) == render.compile_templates()

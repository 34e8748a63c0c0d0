#!/usr/bin/env python3
"""End-to-end checks of the eqprop command line: real runs, JSON outputs, and clear errors on bad input.

Usage: cli-checks.py PATH/TO/eqprop   (reads the data from $EQPROP_DATA)
"""
import http.server
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

binary = sys.argv[1]
data = os.environ.get("EQPROP_DATA")
results = []


def run(*args, expect_success=True):
    process = subprocess.run([binary, *args], capture_output=True, text=True, timeout=600)
    if expect_success and process.returncode != 0:
        raise AssertionError(f"eqprop {' '.join(args)} failed ({process.returncode}): {process.stderr}")
    if not expect_success and process.returncode == 0:
        raise AssertionError(f"eqprop {' '.join(args)} succeeded but should have failed")
    return process


def check(name, function):
    try:
        function()
        results.append((name, None))
        print(f"ok   {name}")
    except Exception as error:  # report every failure, not only the first
        results.append((name, error))
        print(f"FAIL {name}: {error}")


def gradcheck_symmetric():
    report = json.loads(run("gradcheck", "--beta", "0.001", "--nudging", "centered", "--json").stdout)
    assert report["cosine"] >= 0.999999, report
    assert report["relative_error"] < 1e-4, report
    assert {part["name"] for part in report["per_layer"]} >= {"W0-1", "W1-2", "b1"}, report


def gradcheck_exact_block():
    report = json.loads(run("gradcheck", "--minimizer", "exact-block", "--beta", "0.001", "--nudging", "centered", "--json").stdout)
    assert report["cosine"] >= 0.999999, report
    over = json.loads(run("gradcheck", "--minimizer", "exact-block", "--overrelaxation", "1.5", "--beta", "0.001", "--nudging", "centered", "--json").stdout)
    assert abs(over["cosine"] - report["cosine"]) < 1e-9, (over, report)


CONVOLUTIONAL = ["--layers", "2x5x5,3x5x5,2x3x3,3", "--interactions", "conv3/p1,conv3,dense"]


def gradcheck_convolutional():
    def survey(*args):
        document = json.loads(run("gradcheck", *CONVOLUTIONAL, "--seeds", "1-3", *args, "--json").stdout)
        assert document["summary"]["valid"] >= 2, document["summary"]
        return document["summary"]
    symmetric = [survey("--beta", beta, "--nudging", "centered") for beta in ("0.001", "0.0001")]
    assert symmetric[0]["minimum_cosine"] >= 0.999, symmetric
    ratio = symmetric[0]["median_relative_error"] / symmetric[1]["median_relative_error"]
    assert 50 < ratio < 200, f"a tenth of a centered β should give a hundredth of the error, ratio {ratio}"
    blocks = survey("--beta", "0.001", "--nudging", "centered", "--minimizer", "exact-block")
    assert abs(blocks["median_cosine"] - symmetric[0]["median_cosine"]) < 1e-9, (blocks, symmetric)
    one_sided = [json.loads(run("gradcheck", *CONVOLUTIONAL, "--seed", "3", "--beta", beta, "--json").stdout)["relative_error"] for beta in ("0.002", "0.001")]
    assert 1.7 < one_sided[0] / one_sided[1] < 2.3, f"halving β should halve the one-sided error, {one_sided}"
    text = run("gradcheck", *CONVOLUTIONAL).stdout
    assert "2×5×5-3×5×5-2×3×3-3 (convolution 0-1 (kernel 3, stride 1, padding 1)" in text, text
    # The predictive-coding energy's convolution: PC-Nudge O(λ), and PC O(π_L), against backprop.
    for rule in (["--rule", "pc-nudge", "--lambda"], ["--rule", "pc", "--output-precision"]):
        errors = [json.loads(run("gradcheck", *CONVOLUTIONAL, *rule, nudge, "--seeds", "1-3", "--json").stdout)["summary"]["median_relative_error"]
                  for nudge in ("0.002", "0.001")]
        assert 1.7 < errors[0] / errors[1] < 2.3, (rule, errors)
    pooled = survey_of(["--layers", "2x6x6,3x3x3,2x1x1,3", "--interactions", "conv3/p1/pool2,conv2/pool2,dense", "--seeds", "1-12"], "0.001")
    finer = survey_of(["--layers", "2x6x6,3x3x3,2x1x1,3", "--interactions", "conv3/p1/pool2,conv2/pool2,dense", "--seeds", "1-12"], "0.0001")
    assert pooled["valid"] >= 4 and pooled["minimum_cosine"] >= 0.999, pooled
    assert 50 < pooled["median_relative_error"] / finer["median_relative_error"] < 200, (pooled, finer)


def survey_of(args, beta):
    return json.loads(run("gradcheck", *args, "--beta", beta, "--nudging", "centered", "--json").stdout)["summary"]


def train_exact_block():
    with tempfile.TemporaryDirectory() as folder:
        output = os.path.join(folder, "run")
        run("train", "--minimizer", "exact-block", "--tolerance", "0.0001", "--free-steps", "100", "--nudged-steps", "100",
            "--train-limit", "3000", "--epochs", "1", "--output", output, "--quiet")
        assert "minimizer: exact-block" in open(os.path.join(output, "run.yaml")).read()
        assert "epsilon" not in open(os.path.join(output, "run.yaml")).read(), "the preset's ε is dropped"
        record = json.loads(open(os.path.join(output, "metrics.jsonl")).readline())
        assert record["test_error"] < 0.4 and 1 <= record["free_steps"] < 100 and record["unsettled_fraction"] < 0.01, record
        # Each example stops once settled: fewer steps per example than its batch's slowest took.
        assert 1 <= record["free_example_steps"] < record["free_steps"], record
        assert 1 <= record["second_phase_example_steps"] <= record["second_phase_steps"], record
        assert open(os.path.join(output, "metrics.csv")).readline().strip().endswith("free_example_steps,second_phase_example_steps")


def weight_decay_is_announced():
    process = run("train", "--weight-decay", "0.01", "--train-limit", "100", "--epochs", "1")
    assert "[0.2, 0.1], weight decay 0.01, seed 1," in process.stdout.splitlines()[0], process.stdout
    assert "weight decay" not in run("train", "--train-limit", "100", "--epochs", "1").stdout.splitlines()[0]


def train_convolutional():
    """A convolutional Hopfield network trains from flags; its run.yaml replays it; bad shapes are refused by key."""
    with tempfile.TemporaryDirectory() as folder:
        output = os.path.join(folder, "run")
        process = run("train", "--layers", "1x28x28,8x14x14,10", "--interactions", "conv4/s2/p1,dense", "--learning-rates", "0.1,0.05",
                      "--train-limit", "3000", "--validation", "1000", "--epochs", "2", "--output", output)
        assert "1×28×28-8×14×14-10 (convolution 0-1 (kernel 4, stride 2, padding 1))" in process.stdout, process.stdout
        written = open(os.path.join(output, "run.yaml")).read()
        assert "layers: [1x28x28, 8x14x14, 10]" in written and "interactions: [conv4/s2/p1, dense]" in written, written
        records = [json.loads(line) for line in open(os.path.join(output, "metrics.jsonl"))]
        # 2,000 images, two epochs: measured 11.8% validation error (cosine 0.91); chance is 90%.
        assert records[-1]["validation_error"] < 0.3 and records[-1]["alignment_cosine"] > 0.5, records
        # NumPy reads the convolution's weight with its shape, [C_out, C_in, k, k], from the model and the checkpoint.
        shapes = subprocess.run([sys.executable, "-c", "import numpy, sys; "
                                 "print(numpy.load(sys.argv[1]).shape, numpy.load(sys.argv[2])['C0-1'].shape, numpy.load(sys.argv[2])['W1-2'].shape)",
                                 os.path.join(output, "model", "C0-1.npy"), os.path.join(output, "checkpoints", "epoch-0002.npz")],
                                capture_output=True, text=True)
        assert shapes.stdout.strip() == "(8, 1, 4, 4) (8, 1, 4, 4) (1568, 10)", shapes.stdout + shapes.stderr
        replay = os.path.join(folder, "replay")
        run("train", os.path.join(output, "run.yaml"), "--train-limit", "3000", "--output", replay, "--quiet")
        assert [json.loads(line)["test_error"] for line in open(os.path.join(replay, "metrics.jsonl"))] == [r["test_error"] for r in records]
        # Max pooling inside the interaction: 2,000 images, two epochs, seeds 1-3: measured 8.2-13.7% validation error.
        pooled = os.path.join(folder, "pooled")
        process = run("train", "--layers", "1x28x28,8x14x14,10", "--interactions", "conv3/p1/pool2,dense", "--learning-rates", "0.1,0.05",
                      "--train-limit", "3000", "--validation", "1000", "--epochs", "2", "--output", pooled)
        assert "max pooling 2×2" in process.stdout, process.stdout
        assert "interactions: [conv3/p1/pool2, dense]" in open(os.path.join(pooled, "run.yaml")).read()
        records = [json.loads(line) for line in open(os.path.join(pooled, "metrics.jsonl"))]
        assert records[-1]["validation_error"] < 0.3, records
    refusals = [
        (["--layers", "1x28x28,8x13x13,10", "--interactions", "conv4/s2/p1,dense"], "--interactions", "8×14×14"),
        (["--layers", "1x28x28,8x14x14,10", "--interactions", "conv31/p1,dense"], "--interactions", "larger than the padded"),
        (["--layers", "784,500,10", "--interactions", "conv4,dense"], "--interactions", "[C, H, W]"),
        (["--layers", "1x28x28,8x14x14,10", "--interactions", "conv4/q2,dense"], "--interactions", "convK[/sS][/pP]"),
        (["--layers", "1x28x28,8x14x14,10", "--interactions", "dense"], "--interactions", "expected 2 interactions"),
        (["--layers", "28x28,500,10"], "--layers", "CxHxW"),
        (["--layers", "1x28x28,8x14x14,10", "--interactions", "conv4/pool2,dense"], "--interactions", "do not tile the 25×25"),
        (["--layers", "1x28x28,8x7x7,10", "--interactions", "conv3/p1/pool2,dense"], "--interactions", "8×14×14"),
        (["--layers", "1x28x28,8x14x14,10", "--interactions", "conv3/p1/pool2,dense", "--minimizer", "exact-block"], "--minimizer", "max pooling"),
    ]
    for flags, key, words in refusals:
        process = run("train", *flags, "--learning-rates", "0.1,0.05", "--train-limit", "100", "--epochs", "1", expect_success=False)
        assert key in process.stderr and words in process.stderr, (flags, process.stderr)


def bench_relaxation():
    report = json.loads(run("bench", "--relaxation", "--examples", "40", "--overrelaxations", "1", "--json").stdout)
    assert report["examples"] == 40 and [m["minimizer"] for m in report["minimizers"]] == ["gradient descent, ε = 0.5", "exact-block"], report
    descent, block = report["minimizers"]
    assert block["mean_steps"] < descent["mean_steps"] and block["unsettled_fraction"] == 0, report
    assert abs(block["mean_energy"] - descent["mean_energy"]) < 1e-2, report


def gradcheck_survey_and_hypotheses():
    survey = json.loads(run("gradcheck", "--beta", "0.001", "--nudging", "centered", "--seeds", "1-20", "--json").stdout)
    summary = survey["summary"]
    assert summary["cases"] == 20 and summary["valid"] + sum(n for s, n in summary["statuses"].items() if s != "valid") == 20, summary
    assert summary["valid"] >= 15 and summary["minimum_cosine_within_nudge_range"] >= 0.999, summary
    zero = [case for case in survey["cases"] if case["status"] == "zero-gradient"]
    assert zero and all(case["cosine"] is None and case["hypotheses"]["reference_norm"] == 0 for case in zero), zero
    # A zero-gradient case alone: the cosine is undefined, printed as such, exit status 3.
    seed = str(zero[0]["seed"])
    single = run("gradcheck", "--beta", "0.001", "--seed", seed, expect_success=False)
    assert single.returncode == 3 and "zero-gradient" in single.stdout and "undefined" in single.stdout, (single.returncode, single.stdout)
    beyond = [case for case in survey["cases"] if case["cosine"] is not None and case["hypotheses"].get("nudge_range", 1) < 0.001]
    assert beyond, "some seed's nudge range is below 0.001"
    text = run("gradcheck", "--beta", "0.001", "--nudging", "centered", "--seed", str(beyond[0]["seed"])).stdout
    assert "beyond" in text and "kink" in text, text
    shapes = json.loads(run("gradcheck", "--beta", "0.001", "--nudging", "centered", "--seeds", "1-10", "--random-shapes", "--json").stdout)
    assert len({tuple(case["layers"]) for case in shapes["cases"]}) >= 8 and shapes["summary"]["valid"] >= 5, shapes["summary"]


def gradcheck_one_sided_error_shrinks_like_beta():
    errors = [json.loads(run("gradcheck", "--beta", str(beta), "--json").stdout)["relative_error"] for beta in (0.02, 0.01)]
    ratio = errors[0] / errors[1]
    assert 1.7 < ratio < 2.3, f"halving β should halve the error, ratio {ratio}"


def gradcheck_unified_family():
    for rule, energy in ((["--rule", "pc-nudge", "--lambda"], "pc"), (["--rule", "pc", "--output-precision"], "pc"),
                         (["--rule", "ep", "--nudging", "centered", "--beta"], "pc"), (["--rule", "chl", "--feedback-gain"], "hopfield")):
        report = json.loads(run("gradcheck", *rule, "0.001", "--energy", energy, "--json").stdout)
        assert report["reference"] == "backpropagation", report
        assert report["cosine"] >= 0.999, (rule, report)
        assert {"W0-1", "W1-2", "W2-3"} <= {part["name"] for part in report["per_layer"]}, report


def gradcheck_cross_entropy():
    report = json.loads(run("gradcheck", "--rule", "pc-nudge", "--cost", "cross-entropy", "--lambda", "0.001", "--json").stdout)
    assert report["cosine"] >= 0.999, report


def gradcheck_new_rules():
    for rule in (["--rule", "ep", "--nudging", "negative", "--beta", "0.001"], ["--rule", "tbp", "--nudged-steps", "3000"],
                 ["--rule", "rbp", "--nudged-steps", "3000"]):
        report = json.loads(run("gradcheck", *rule, "--json").stdout)
        assert report["reference"] == "implicit-differentiation" and report["cosine"] >= 0.999, (rule, report)
    coupled = json.loads(run("gradcheck", "--rule", "cpl", "--beta", "0.001", "--json").stdout)
    assert coupled["description"] == "cpl (beta 0.001, nudging positive)" and -1 <= coupled["cosine"] <= 1, coupled


def align_sweep():
    with tempfile.TemporaryDirectory() as folder:
        csv_path, svg_path = os.path.join(folder, "align.csv"), os.path.join(folder, "align.svg")
        report = json.loads(run("align", "--nudges", "0.01,0.5", "--steps", "20,200", "--seeds", "1,2", "--batch-size", "16",
                                "--json", "--csv", csv_path, "--svg", svg_path).stdout)
        assert report["rule"] == "pc-nudge" and len(report["rows"]) == 8, report["rows"]
        summary = {(line["nudge"], line["steps"]): line for line in report["summary"]}
        assert summary[(0.01, 200)]["cosine"] > 0.999, summary
        assert summary[(0.01, 200)]["cosine"] > summary[(0.5, 200)]["cosine"], "alignment improves as λ shrinks"
        assert summary[(0.01, 200)]["relative_error"] < summary[(0.01, 20)]["relative_error"], "and with more inference steps"
        lines = open(csv_path).read().splitlines()
        assert lines[0] == "rule,nudge,steps,seed,layer,cosine,relative_error" and len(lines) == 1 + 8 * 4, len(lines)
        assert open(svg_path).read().count("<svg") == 3, "two stacked plots"
        # On a convolutional predictive-coding network (measured: cosine 1.00000 at λ = 0.001, 0.886 at λ = 1).
        conv = json.loads(run("align", "--layers", "1x28x28,4x14x14,10", "--interactions", "conv4/s2/p1,dense", "--nudges", "0.001,1",
                              "--steps", "100", "--seeds", "1", "--batch-size", "16", "--json").stdout)
        summary = {line["nudge"]: line for line in conv["summary"]}
        assert summary[0.001]["cosine"] > 0.9999 and summary[1.0]["cosine"] < summary[0.001]["cosine"], summary
        assert "convolution 0-1" in conv["architecture"], conv["architecture"]


def align_gdu():
    with tempfile.TemporaryDirectory() as folder:
        csv_path, svg_path = os.path.join(folder, "gdu.csv"), os.path.join(folder, "gdu.svg")
        report = json.loads(run("align", "--gdu", "--layers", "784,32,10", "--batch-size", "8", "--seeds", "1", "--nudges", "0.001,0.05",
                                "--steps", "4", "--free-steps", "1500", "--json", "--csv", csv_path, "--svg", svg_path).stdout)
        assert report["free_phase_last_change"][0] < 1e-8, report["free_phase_last_change"]
        rows = {(row["quantity"], row["beta"], row["step"]): row for row in report["rows"]}
        assert len(rows) == 2 * 2 * 4, len(rows)
        for quantity in ("weights", "states"):
            for step in range(1, 5):
                small, large = rows[(quantity, 0.001, step)], rows[(quantity, 0.05, step)]
                assert small["cosine"] > 0.999, small
                # Step 1 is exact at any β (the nudge's first step is linear); later steps converge as β → 0.
                assert step == 1 or small["relative_error"] < large["relative_error"], (small, large)
        assert open(csv_path).read().splitlines()[0] == "quantity,beta,seed,step,layer,cosine,relative_error"
        assert open(svg_path).read().count("<svg") == 3, "two stacked plots"
        assert report["free_phase_settled"], report["free_phase_last_change"]
    # On a convolutional Hopfield network: where the free phase settles the property holds (measured: cosine 1.00000 at
    # every step); where it has not (200 steps), the comparison says so instead of reporting its cosines as the property's.
    conv = ["align", "--gdu", "--layers", "1x28x28,4x14x14,10", "--interactions", "conv4/s2/p1,dense", "--batch-size", "8", "--seeds", "1", "--steps", "4"]
    settled = json.loads(run(*conv, "--free-steps", "6000", "--inference-rate", "0.2", "--json").stdout)
    assert settled["free_phase_settled"] and all(row["cosine"] > 0.9999 for row in settled["rows"]), settled["rows"]
    assert "the free phase has not settled" in run(*conv, "--free-steps", "200").stdout


def run_folder_and_plot():
    with tempfile.TemporaryDirectory() as folder:
        run_dir = os.path.join(folder, "run")
        quiet = run("train", "--train-limit", "1000", "--epochs", "2", "--output", run_dir, "--quiet")
        assert quiet.stdout == "", quiet.stdout
        for name in ("run.yaml", "configuration.json", "metrics.jsonl", "metrics.csv", "metrics.json", "model/model.json",
                     "checkpoints/epoch-0002.npz"):
            assert os.path.exists(os.path.join(run_dir, name)), name
        records = [json.loads(line) for line in open(os.path.join(run_dir, "metrics.jsonl"))]
        assert [r["epoch"] for r in records] == [1, 2] and all(0 <= r["test_error"] <= 1 for r in records), records
        # EP's update at the paper's β = 1 points along the exact gradient (cosines 0.78–0.85 measured on
        # examples whose output is not saturated: a finite nudge), and the free energy is negative.
        assert all(0.7 < r["alignment_cosine"] <= 1 and r["test_energy"] < 0 for r in records), records
        csv_lines = open(os.path.join(run_dir, "metrics.csv")).read().splitlines()
        assert csv_lines[0].startswith("epoch,train_error,test_error") and len(csv_lines) == 3, csv_lines
        assert json.load(open(os.path.join(run_dir, "configuration.json")))["learning"]["training"]["epochs"] == 2
        run("plot", run_dir)
        curves = open(os.path.join(run_dir, "learning-curves.svg")).read()
        assert curves.count("<svg") == 5 and "energy" in curves and "exact gradient" in curves, "four stacked plots"
        figure = os.path.join(folder, "figure.svg")
        run("plot", run_dir, run_dir, "--labels", "first run,second run", "--svg", figure)
        compared = open(figure).read()
        assert compared.count("<svg") in (3, 4) and compared.count("first run") == compared.count("second run") >= 2, compared[:400]
        run("plot", run_dir, run_dir, "--max-error", "50", "--svg", figure)
        assert "(above 50% not drawn)" in open(figure).read()
        process = run("plot", run_dir, run_dir, expect_success=False)
        assert "--svg" in process.stderr, process.stderr
        process = run("plot", run_dir, run_dir, "--labels", "one", "--svg", figure, expect_success=False)
        assert "--labels: 2 names expected" in process.stderr, process.stderr
        blocked = os.path.join(run_dir, "metrics.csv", "inside")
        process = run("train", "--train-limit", "100", "--epochs", "1", "--output", blocked, expect_success=False)
        assert "--output: cannot create the run folder" in process.stderr and blocked in process.stderr, process.stderr
        with open(os.path.join(run_dir, "metrics.jsonl"), "a") as f:
            f.write("not json\n")
        process = run("plot", run_dir, expect_success=False)
        assert "metrics.jsonl:3" in process.stderr, process.stderr


def sweep_runs_and_summarises():
    """A sweep trains every run of its grid in its own folder, summarises them, and skips finished runs when run again."""
    with tempfile.TemporaryDirectory() as folder:
        common = ["sweep", "--preset", "family-mlp", "--layers", "784,16,10", "--learning-rates", "0.005,0.005", "--epochs", "2",
                  "--train-limit", "600", "--validation", "500", "--seeds", "1-2", "--variant", "rule=bp", "--variant", "rule=pc-nudge lambda=0.1",
                  "--output", folder]
        first = run(*common).stdout
        assert "4 runs (2 variants × 2 seeds)" in first and "validation error" in first, first
        summary = json.load(open(os.path.join(folder, "summary.json")))
        assert [row["variant"] for row in summary["rows"]] == ["rule=bp", "rule=pc-nudge lambda=0.1"], summary
        assert all(row["seeds"] == [1, 2] and row["selected_test_error"]["count"] == 2 for row in summary["rows"]), summary
        records = [json.loads(line) for line in open(os.path.join(folder, "rule-bp", "seed-2", "metrics.jsonl"))]
        assert len(records) == 2 and all("validation_error" in r for r in records), records
        again = run(*common).stdout
        assert again.count(": complete") == 4, again
        markdown = open(os.path.join(folder, "summary.md")).read()
        assert "| rule=pc-nudge lambda=0.1 | 1, 2 |" in markdown, markdown


def rejects(args, *fragments):
    def body():
        process = run(*args, expect_success=False)
        for fragment in fragments:
            assert fragment in process.stderr, f"expected {fragment!r} in: {process.stderr}"
    return body


def validation_split_too_large_is_refused():
    stderr = run("train", "--validation", "60000", "--epochs", "1", expect_success=False).stderr
    assert "Error: validation: expected 0 to 59999 examples held out of the 60000 of mnist's training set, got 60000" in stderr, stderr
    assert "Usage" not in stderr, stderr  # bad data, not bad command-line syntax


def train_and_evaluate():
    with tempfile.TemporaryDirectory() as folder:
        metrics_path = os.path.join(folder, "metrics.json")
        model = os.path.join(folder, "model")
        stdout = run("train", "--train-limit", "3000", "--epochs", "1", "--metrics-json", metrics_path, "--save-model", model).stdout
        assert "chosen on the validation set: epoch 1 (validation error" in stdout, stdout
        # Without a validation split nothing is chosen, and the report says which test error it gives.
        unsplit = run("train", "--train-limit", "3000", "--epochs", "1", "--validation", "0").stdout
        assert "no validation set held out, so no epoch was chosen: the last epoch's test error is" in unsplit, unsplit
        metrics = json.load(open(metrics_path))
        for key in ("train_error", "test_error", "epochs", "seconds_per_epoch", "samples_per_second"):
            assert key in metrics, f"{key} missing from {metrics}"
        assert metrics["epochs"] == 1 and metrics["test_error"] < 0.2, metrics
        evaluation = json.loads(run("evaluate", "--model", model, "--json").stdout)
        assert abs(evaluation["test_error"] - metrics["test_error"]) < 1e-12, (evaluation, metrics)
        assert evaluation["batch_size"] == 1000 and evaluation["seconds"] > 0, evaluation
        # Each example settles on its own: the batch changes the speed, not the errors.
        in_sevens = json.loads(run("evaluate", "--model", model, "--batch-size", "7", "--json").stdout)
        assert in_sevens["batch_size"] == 7, in_sevens
        for key in [key for key in evaluation if key.endswith("_error")]:
            assert in_sevens[key] == evaluation[key], (key, in_sevens, evaluation)
        rejects(["evaluate", "--model", model, "--batch-size", "0"], "--batch-size", "positive")()
        # A model remembers its data set: evaluate measures a Fashion-MNIST model on Fashion-MNIST.
        fashion = os.path.join(folder, "fashion")
        run("train", "--preset", "family-mlp", "--rule", "bp", "--dataset", "fashion-mnist", "--layers", "784,32,10",
            "--learning-rates", "0.001,0.001", "--train-limit", "2000", "--epochs", "1", "--metrics-json", metrics_path, "--save-model", fashion)
        metrics = json.load(open(metrics_path))
        evaluation = json.loads(run("evaluate", "--model", fashion, "--json").stdout)
        assert metrics["dataset"] == "fashion-mnist" and abs(evaluation["test_error"] - metrics["test_error"]) < 1e-12, (evaluation, metrics)
        manifest = os.path.join(fashion, "model.json")
        description = json.load(open(manifest))
        description["run"]["data"]["dataset"] = "svhn"
        json.dump(description, open(manifest, "w"))
        rejects(["evaluate", "--model", fashion], "model.json", "run.data.dataset", "svhn")()


def train_predictive_coding():
    with tempfile.TemporaryDirectory() as folder:
        for rule in (["--rule", "pc-nudge", "--lambda", "0.1", "--epsilon", "0.1", "--nudged-steps", "30"], ["--rule", "bp"]):
            metrics_path = os.path.join(folder, f"{rule[1]}.json")
            run("train", "--energy", "pc", *rule, "--layers", "784,64,10", "--hidden-activation", "relu", "--output-activation", "identity",
                "--learning-rates", "0.1,0.1", "--batch-size", "32", "--train-limit", "2000", "--epochs", "1", "--metrics-json", metrics_path)
            metrics = json.load(open(metrics_path))
            assert metrics["test_error"] < 0.3 and "predictiveCoding" in metrics["run"]["learning"]["energy"], metrics
        # A convolutional predictive-coding network (3,000 images, 2 epochs: measured 10.3% validation error with PC and with
        # PC-Nudge); its convolution's weight saved as [C_out, C_in, k, k], its bias one per channel.
        output = os.path.join(folder, "conv")
        run("train", "--preset", "family-mlp", "--layers", "1x28x28,8x14x14,10", "--interactions", "conv4/s2/p1,dense",
            "--learning-rates", "0.001,0.001", "--train-limit", "3000", "--validation", "1000", "--epochs", "2", "--output", output, "--quiet")
        records = [json.loads(line) for line in open(os.path.join(output, "metrics.jsonl"))]
        assert records[-1]["validation_error"] < 0.3, records
        shapes = subprocess.run([sys.executable, "-c", "import numpy, sys; print(numpy.load(sys.argv[1]).shape, numpy.load(sys.argv[2]).shape)",
                                 os.path.join(output, "model", "W0-1.npy"), os.path.join(output, "model", "b1.npy")], capture_output=True, text=True)
        assert shapes.stdout.strip() == "(8, 1, 4, 4) (1, 8)", shapes.stdout + shapes.stderr
        rejects(["train", "--preset", "family-mlp", "--layers", "1x28x28,8x14x14,10", "--interactions", "conv3/p1/pool2,dense",
                 "--learning-rates", "0.001,0.001"], "--interactions", "no pooling with the pc energy")()


def bench_counts_products():
    """bench counts the products of a PC epoch and times them at their shapes."""
    report = json.loads(run("bench", "--preset", "family-mlp", "--rule", "pc", "--train-limit", "640", "--shapes", "3", "--json").stdout)
    assert report["rule"] == "pc" and report["layers"] == [784, 256, 256, 10] and report["examples"] == 640, report
    assert report["gflop_per_epoch"] > 0 and 0 < report["fraction_in_gemm"] < 1.5, report
    assert len(report["products"]) == 3 and report["products"][0]["calls_per_epoch"] > 0, report
    assert "convolution" not in report, report
    # A convolutional network: the convolutions' products apart, their share of the epoch and throughput.
    report = json.loads(run("bench", "--layers", "1x28x28,8x14x14,10", "--interactions", "conv4/s2/p1,dense", "--learning-rates", "0.1,0.05",
                            "--train-limit", "200", "--threads", "1", "--json").stdout)
    convolution = report["convolution"]
    assert 0 < convolution["gflop_per_epoch"] < report["gflop_per_epoch"] and 0 < convolution["fraction_of_epoch"] < 1, report
    assert convolution["gflops"] > 0 and any(product["shape"]["convolution"] for product in report["products"]), report


def bench_side_by_side():
    """bench --variant times the run and its variants epoch by epoch in turn, with each phase's steps."""
    report = json.loads(run("bench", "--train-limit", "400", "--epochs", "2", "--variant", "minimizer=exact-block tolerance=0.001",
                            "--json").stdout)
    given, fast = report["rows"]
    assert given["label"] == "as given" and given["dynamics"] == "ε 0.5, 20/4 steps", given
    assert fast["dynamics"] == "exact-block, 20/4 steps to 0.001" and len(fast["seconds_per_epoch"]) == 2, fast
    assert given["free_steps_per_batch"] == [20, 20] and all(1 <= steps < 20 for steps in fast["free_steps_per_batch"]), report
    assert given["gflop_per_epoch"] > 0 and all(0 <= error <= 1 for error in fast["train_error"]), report


def output_files_get_their_folders():
    """Output files go into folders created for them; a path that cannot be made is refused by flag, before training."""
    with tempfile.TemporaryDirectory() as folder:
        nested = os.path.join(folder, "runs", "deeper", "net1.json")
        run("train", "--train-limit", "200", "--epochs", "1", "--quiet", "--metrics-json", nested)
        assert json.load(open(nested))["epochs"] == 1
        blocked = os.path.join(nested, "inside", "net1.json")  # under a file
        process = run("train", "--train-limit", "200", "--epochs", "1", "--metrics-json", blocked, expect_success=False)
        assert "--metrics-json: cannot create the folder" in process.stderr and "epoch 1" not in process.stdout, (process.stdout, process.stderr)
        process = run("stdp", "--trials", "50", "--csv", os.path.join(nested, "window.csv"), expect_success=False)
        assert "--csv: cannot create the folder" in process.stderr, process.stderr


def divergence_is_reported():
    process = run("train", "--train-limit", "400", "--epochs", "1", "--learning-rates", "1e38,1e38", "--beta", "0.001",
                  expect_success=False)
    assert "diverged" in process.stderr, process.stderr


def stdp_window_outputs():
    with tempfile.TemporaryDirectory() as folder:
        csv_path, svg_path = os.path.join(folder, "window.csv"), os.path.join(folder, "window.svg")
        report = json.loads(run("stdp", "--trials", "4000", "--window-ms", "50", "--json", "--csv", csv_path,
                                "--svg", svg_path).stdout)
        window = report["window"]
        assert [point["dt_ms"] for point in window] == list(range(-50, 51)), window
        early = sum(point["dw"] for point in window if 0 < point["dt_ms"] <= 20)
        late = sum(point["dw"] for point in window if -20 <= point["dt_ms"] < 0)
        assert early > 0 > late, f"expected potentiation when pre leads and depression when it lags: {early}, {late}"
        for side in ("potentiation", "depression"):
            assert 10 < report["fit"][side]["tau_ms"] < 40, report["fit"]
            assert 10 < report["rate_fit"][side]["tau_ms"] < 40, report["rate_fit"]
        lines = open(csv_path).read().splitlines()
        assert lines[0] == "dt_ms,dw,dw_stderr,dw_rate,pairs" and len(lines) == 102, lines[:3]
        svg = open(svg_path).read()
        assert svg.startswith("<svg") and "rate rule" in svg and "spiking simulation" in svg


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def run_file_errors():
    """Unknown keys, wrong types, missing keys and broken YAML name the key and the line."""
    net1 = open(os.path.join(os.path.dirname(__file__), "..", "Sources", "TrainingRuns", "Presets", "scellier2017-net1.yaml")).read()
    with tempfile.TemporaryDirectory() as folder:
        cases = [
            (net1.replace("  batch-size: 20", "  batch-sise: 20"), ["unknown key 'training.batch-sise'", "batch-size"]),
            (net1.replace("  epochs: 25", "  epochs: many"), ["'training.epochs': expected an integer, got 'many'"]),
            (net1.replace("  epochs: 25", '  epochs: "25"'), ["'training.epochs': expected an integer, got the quoted string"]),
            (net1.replace("  layers: [784, 500, 10]", "  layers: 784-500-10"), ["'architecture.layers': expected a list"]),
            (net1.replace("  persistent-particles: false", "  persistent-particles: yes"), ["'dynamics.persistent-particles': expected true or false"]),
            (net1.replace("  name: ep", "  name: hebb"), ["'rule.name': expected one of ep, stdp"]),
            (net1.replace("  beta: 1.0\n", ""), ["missing the key 'rule.beta'", "--beta sets it"]),
            (net1.replace("  beta: 1.0", "  beta: 0"), ["rule.beta: expected a positive finite β"]),
            (net1.replace("  beta: 1.0", "  beta: 1.0\n  lambda: 0.1"), ["rule.lambda: rule ep does not take lambda", "beta, nudging"]),
            (net1.replace("  nudging: random", "  nudging: one-sided"), ["'rule.nudging': expected one of positive", "now 'positive'"]),
            (net1.replace("  nudging: random", "  random-sign: true"), ["unknown key 'rule.random-sign'", "nudging: random"]),
            (net1.replace("seed: 1", "seed: 1\nseed: 2"), ["'seed' appears twice"]),
            (net1.replace("  epsilon: 0.5", "  epsilon: [0.5"), ["not valid YAML"]),
        ]
        for number, (text, fragments) in enumerate(cases):
            path = write(os.path.join(folder, f"bad{number}.yaml"), text)
            process = run("train", path, expect_success=False)
            changed = next(i + 1 for i, (a, b) in enumerate(zip(text.splitlines() + [""], net1.splitlines() + [""])) if a != b)
            assert f"{path}:" in process.stderr, process.stderr
            for fragment in fragments:
                assert fragment in process.stderr, (fragment, process.stderr)
            line = int(process.stderr.split(f"{path}:")[1].split(":")[0])
            assert abs(line - changed) <= 1, (changed, process.stderr)
        process = run("train", os.path.join(folder, "absent.yaml"), expect_success=False)
        assert "absent.yaml" in process.stderr and "cannot read" in process.stderr, process.stderr


def stripped_metrics(folder):
    """Each epoch's metrics without the wall-clock seconds."""
    records = [json.loads(line) for line in open(os.path.join(folder, "metrics.jsonl"))]
    for record in records:
        del record["seconds"]
    return records


def run_file_is_deterministic_and_flags_override():
    """The same run file and seed give bit-identical metrics; flags override its fields; run.yaml replays the run."""
    with tempfile.TemporaryDirectory() as folder:
        path = write(os.path.join(folder, "run.yaml"), open(os.path.join(os.path.dirname(__file__), "..", "Sources", "TrainingRuns", "Presets",
                                                                          "family-mlp.yaml")).read())
        common = ["--train-limit", "1500", "--epochs", "2", "--layers", "784,32,10", "--learning-rates", "0.001,0.001", "--quiet"]
        run("train", path, *common, "--output", os.path.join(folder, "a"))
        run("train", path, *common, "--output", os.path.join(folder, "b"))
        first, second = stripped_metrics(os.path.join(folder, "a")), stripped_metrics(os.path.join(folder, "b"))
        assert len(first) == 2 and first == second, (first, second)
        replay = open(os.path.join(folder, "a", "run.yaml")).read()
        assert "layers: [784, 32, 10]" in replay and "epochs: 2" in replay, replay
        run("train", os.path.join(folder, "a", "run.yaml"), "--train-limit", "1500", "--quiet", "--output", os.path.join(folder, "c"))
        assert stripped_metrics(os.path.join(folder, "c")) == first
        learning = json.load(open(os.path.join(folder, "a", "configuration.json")))["learning"]
        assert learning["architecture"]["layers"] == [[784], [32], [10]] and learning["training"]["optimizer"] == "adam", learning


def resume_after_sigkill():
    """A run killed (SIGKILL) mid-epoch and resumed ends with the metrics of an uninterrupted run;
    its .npz checkpoints open in NumPy; a truncated checkpoint is refused and the previous one used."""
    import numpy
    with tempfile.TemporaryDirectory() as folder:
        whole, cut = os.path.join(folder, "whole"), os.path.join(folder, "cut")
        common = ["--preset", "family-mlp", "--train-limit", "6000", "--epochs", "5", "--layers", "784,64,10",
                  "--learning-rates", "0.001,0.001", "--quiet", "--keep-checkpoints", "2"]
        run("train", *common, "--output", whole)
        process = subprocess.Popen([binary, "train", *common, "--output", cut])
        checkpoint = os.path.join(cut, "checkpoints", "epoch-0002.npz")
        deadline = time.time() + 300
        while not os.path.exists(checkpoint) and process.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # into epoch 3
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL, f"the run ended before it was killed ({process.returncode})"
        assert not os.path.exists(os.path.join(cut, "checkpoints", "epoch-0005.npz"))
        run("train", "--resume", cut, "--quiet", "--keep-checkpoints", "2")
        assert stripped_metrics(cut) == stripped_metrics(whole), (stripped_metrics(cut), stripped_metrics(whole))
        names = sorted(os.listdir(os.path.join(cut, "checkpoints")))
        assert names == ["epoch-0004.npz", "epoch-0005.npz"], names
        archive = numpy.load(os.path.join(cut, "checkpoints", "epoch-0005.npz"))
        metadata = json.loads(archive["metadata.json"])
        assert metadata["epoch"] == 5 and len(metadata["history"]) == 5 and metadata["optimizer_steps"] > 0, metadata
        assert archive["W0-1"].shape == (784, 64) and archive["W0-1"].dtype == numpy.float32
        assert numpy.array_equal(archive["W0-1"], numpy.load(os.path.join(cut, "model", "W0-1.npy")))
        assert archive["optimizer/m/W0-1"].shape == (784, 64) and numpy.isfinite(archive["optimizer/v/b2"]).all()
        # Truncate the newest checkpoint: resuming refuses it by name, keeps it and the previous one,
        # and continues from the previous one (to the same end).
        newest = os.path.join(cut, "checkpoints", "epoch-0005.npz")
        size = os.path.getsize(newest)
        with open(newest, "r+b") as f:
            f.truncate(size // 2)
        process = run("train", "--resume", cut, "--quiet")
        assert "epoch-0005.npz: checkpoint refused" in process.stderr and "previous checkpoint" in process.stderr, process.stderr
        assert os.path.exists(os.path.join(cut, "checkpoints", "epoch-0004.npz"))
        assert stripped_metrics(cut) == stripped_metrics(whole)
        # Garbage in every checkpoint: nothing to resume from, each refusal named.
        for name in os.listdir(os.path.join(cut, "checkpoints")):
            write(os.path.join(cut, "checkpoints", name), "not a zip archive")
        process = run("train", "--resume", cut, expect_success=False)
        assert "no usable checkpoint" in process.stderr and "epoch-0004.npz" in process.stderr, process.stderr
        assert "cannot be given with --resume" in run("train", "--resume", cut, "--epochs", "9", expect_success=False).stderr
        assert "no run folder" in run("train", "--resume", os.path.join(folder, "nothing"), expect_success=False).stderr


# MPI ranks on this machine only: shared memory between ranks, the loopback interface for the launcher.
MPIRUN = ["mpirun", "--oversubscribe", "--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo"]
MPI_ENVIRONMENT = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def mpirun(ranks, *args, expect_success=True):
    process = subprocess.run([*MPIRUN, "-np", str(ranks), binary, *args], capture_output=True, text=True, timeout=600, env=MPI_ENVIRONMENT)
    if expect_success != (process.returncode == 0):
        raise AssertionError(f"mpirun -np {ranks} eqprop {' '.join(args)}: exit status {process.returncode}: {process.stdout[-2000:]} {process.stderr[-2000:]}")
    return process


def mpi_data_parallel():
    """2 ranks splitting each batch give the metrics of one process relaxing it in 2 blocks, up to the
    rounding of the gradient's sum (one GEMM over the batch against two halves added); 1 rank is the
    plain run bit for bit; what the ranks cannot do is refused by name."""
    with tempfile.TemporaryDirectory() as folder:
        common = ["train", "--preset", "scellier2017-net1-fast", "--epochs", "2", "--train-limit", "2000", "--validation", "500",
                  "--alignment-examples", "0", "--quiet"]
        def metrics(name):
            return {key: value for key, value in json.load(open(os.path.join(folder, name))).items() if key not in ("samples_per_second", "seconds_per_epoch")}
        run(*common, "--threads", "2", "--metrics-json", os.path.join(folder, "one.json"))
        mpirun(2, *common, "--threads", "1", "--metrics-json", os.path.join(folder, "two.json"))
        one, two = metrics("one.json"), metrics("two.json")
        assert one["selected_epoch"] == two["selected_epoch"] and one["run"] == two["run"], (one, two)
        for key in ("train_error", "test_error", "selected_validation_error"):
            assert abs(one[key] - two[key]) <= 0.005, (key, one[key], two[key])
        for key in ("train_cost", "test_cost"):
            assert abs(one[key] - two[key]) <= 0.01 * one[key], (key, one[key], two[key])
        run(*common, "--threads", "1", "--metrics-json", os.path.join(folder, "alone.json"))
        mpirun(1, *common, "--threads", "1", "--metrics-json", os.path.join(folder, "rank.json"))
        assert metrics("alone.json") == metrics("rank.json")
        # Only rank 0 writes a run folder.
        ran = mpirun(2, *common, "--threads", "1", "--epochs", "1", "--output", os.path.join(folder, "run"))
        assert sorted(os.listdir(os.path.join(folder, "run"))) == ["checkpoints", "configuration.json", "metrics.csv", "metrics.json", "metrics.jsonl", "model", "run.yaml"]
        refused = mpirun(2, "train", "--rule", "stdp", "--noise", "0.1", "--train-limit", "100", expect_success=False).stderr
        assert refused.count("--noise (dynamics.noise): Langevin noise is not implemented on MPI ranks") == 1, refused
        refused = mpirun(2, "train", "--persistent-particles", "--train-limit", "100", expect_success=False).stderr
        assert refused.count("--persistent-particles (dynamics.persistent-particles)") == 1, refused
        refused = mpirun(2, "gradcheck", expect_success=False).stderr
        assert refused.count("only train, sweep and bench run on MPI ranks") == 1, refused
        # Each rank reads its own data directory: one without the data ends the job, naming the rank.
        missing = subprocess.run([*MPIRUN, "-np", "1", binary, *common, "--threads", "1", ":", "-np", "1", "-x", "EQPROP_DATA=" + folder,
                                  binary, *common, "--threads", "1"], capture_output=True, text=True, timeout=600,
                                 env=dict(MPI_ENVIRONMENT, EQPROP_DATA=data))
        assert missing.returncode != 0 and "eqprop: rank 1 of 2: Error: missing data files" in missing.stderr, missing.stderr
        # bench times the ranks' epochs and what their gradient sums move.
        bench = json.loads(mpirun(2, "bench", "--train-limit", "400", "--threads", "1", "--json", "--data-dir", data).stdout)
        assert bench["ranks"] == 2 and bench["allreduce_bytes_per_batch"] == 4 * (784 * 500 + 500 + 500 * 10 + 10), bench
        assert bench["allreduce_calls_per_epoch"] >= 400 // 20 and len(bench["seconds_per_epoch"]) == 1, bench


def mpi_rank_killed_then_resumed():
    """Killing one rank mid-epoch ends the whole job with mpirun's message; the run resumed on 2 ranks
    ends with the metrics of an uninterrupted 2-rank run (2 ranks sum in one order: a + b = b + a)."""
    with tempfile.TemporaryDirectory() as folder:
        whole, cut = os.path.join(folder, "whole"), os.path.join(folder, "cut")
        common = ["train", "--preset", "scellier2017-net1-fast", "--epochs", "3", "--train-limit", "6000", "--validation", "1000",
                  "--alignment-examples", "0", "--threads", "1", "--quiet"]
        mpirun(2, *common, "--output", whole)
        job = subprocess.Popen([*MPIRUN, "-np", "2", binary, *common, "--output", cut], env=MPI_ENVIRONMENT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        checkpoint = os.path.join(cut, "checkpoints", "epoch-0001.npz")
        deadline = time.time() + 300
        while not os.path.exists(checkpoint) and job.poll() is None and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # into epoch 2
        ranks = subprocess.run(["pgrep", "-P", str(job.pid)], capture_output=True, text=True).stdout.split()
        assert len(ranks) == 2, f"expected 2 ranks under mpirun, found {ranks}"
        os.kill(int(ranks[-1]), signal.SIGKILL)
        output, _ = job.communicate(timeout=120)
        assert job.returncode != 0 and "exited on signal 9" in output, (job.returncode, output)
        assert not os.path.exists(os.path.join(cut, "checkpoints", "epoch-0003.npz"))
        mpirun(2, "train", "--resume", cut, "--threads", "1", "--alignment-examples", "0", "--quiet")
        assert stripped_metrics(cut) == stripped_metrics(whole), (stripped_metrics(cut), stripped_metrics(whole))


def mpi_sweep():
    """A sweep's runs shared out among 2 ranks: each run in its folder, the summary by rank 0 once, as in one process."""
    with tempfile.TemporaryDirectory() as folder:
        common = ["sweep", "--preset", "family-mlp", "--layers", "784,16,10", "--learning-rates", "0.005,0.005", "--epochs", "1",
                  "--train-limit", "600", "--validation", "500", "--seeds", "1-3", "--threads", "1"]
        shared = mpirun(2, *common, "--output", os.path.join(folder, "ranks")).stdout
        assert "3 runs (1 variant × 3 seeds)" in shared and "over 2 MPI ranks" in shared and shared.count("| variant |") == 1, shared
        run(*common, "--output", os.path.join(folder, "alone"))
        for seed in (1, 2, 3):
            assert stripped_metrics(os.path.join(folder, "ranks", "base", f"seed-{seed}")) == stripped_metrics(os.path.join(folder, "alone", "base", f"seed-{seed}"))
        summary = json.load(open(os.path.join(folder, "ranks", "summary.json")))
        assert summary["rows"][0]["seeds"] == [1, 2, 3], summary


class DataServer(http.server.SimpleHTTPRequestHandler):
    """Serves a folder with byte ranges (for resumed downloads) and remembers the ranges asked for."""
    ranges = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.translate_path(self.path)
        if not os.path.isfile(path):
            self.send_error(404)
            return
        content = open(path, "rb").read()
        requested = self.headers.get("Range")
        DataServer.ranges.append(requested)
        start = int(requested.split("=")[1].split("-")[0]) if requested else 0
        self.send_response(206 if requested else 200)
        if requested:
            self.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        self.send_header("Content-Length", str(len(content) - start))
        self.end_headers()
        self.wfile.write(content[start:])


def serve(folder):
    handler = lambda *args: DataServer(*args, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def data_download():
    """Downloads from a local server verify checksums, resume a partial file, and reject a corrupted file."""
    with tempfile.TemporaryDirectory() as folder:
        good, bad, target = (os.path.join(folder, name) for name in ("good", "bad", "target"))
        shutil.copytree(os.path.join(data, "mnist"), good)
        shutil.copytree(good, bad)
        labels = os.path.join(bad, "t10k-labels-idx1-ubyte.gz")
        raw = bytearray(open(labels, "rb").read())
        raw[len(raw) // 2] ^= 0xFF
        open(labels, "wb").write(bytes(raw))
        good_server, good_url = serve(good)
        bad_server, bad_url = serve(bad)
        try:
            # A corrupted file is rejected by name, and nothing is left in its place.
            process = run("data", "download", "mnist", "--data-dir", target, "--mirror", bad_url, expect_success=False)
            assert "t10k-labels-idx1-ubyte.gz" in process.stderr, process.stderr
            assert not os.path.exists(os.path.join(target, "mnist", "t10k-labels-idx1-ubyte.gz"))
            assert not os.path.exists(os.path.join(target, "mnist", "t10k-labels-idx1-ubyte.gz.partial"))
            # An interrupted download resumes from its partial file.
            images = open(os.path.join(good, "t10k-images-idx3-ubyte.gz"), "rb").read()
            partial = os.path.join(target, "mnist", "t10k-images-idx3-ubyte.gz.partial")
            os.remove(os.path.join(target, "mnist", "t10k-images-idx3-ubyte.gz"))
            open(partial, "wb").write(images[:len(images) // 3])
            DataServer.ranges.clear()
            output = run("data", "download", "mnist", "--data-dir", target, "--mirror", good_url).stdout
            assert f"bytes={len(images) // 3}-" in DataServer.ranges, DataServer.ranges
            assert "train-images-idx3-ubyte.gz: present, checksum verified" in output, output
            for name in os.listdir(good):
                assert open(os.path.join(target, "mnist", name), "rb").read() == open(os.path.join(good, name), "rb").read(), name
            assert not os.path.exists(partial)
        finally:
            good_server.shutdown()
            bad_server.shutdown()


def cifar_download_and_train():
    """CIFAR-10's binary archive, made here and served on 127.0.0.1: refused by the published MD5, extracted with
    its own, read end to end by a convolutional run; a truncated archive is refused by name."""
    import hashlib
    import tarfile
    with tempfile.TemporaryDirectory() as folder:
        served, target = os.path.join(folder, "served"), os.path.join(folder, "data")
        batches = os.path.join(folder, "cifar-10-batches-bin")
        os.makedirs(served)
        os.makedirs(batches)
        generator = random.Random(1)
        names = [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]
        for name in names:
            records = b"".join(bytes([generator.randrange(10)]) + generator.randbytes(3072) for _ in range(4))
            open(os.path.join(batches, name), "wb").write(records)
        open(os.path.join(batches, "batches.meta.txt"), "w").write("airplane\n")
        archive = os.path.join(served, "cifar-10-binary.tar.gz")
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(batches, arcname="cifar-10-batches-bin")
        md5 = hashlib.md5(open(archive, "rb").read()).hexdigest()
        server, url = serve(served)
        try:
            process = run("data", "download", "cifar-10", "--data-dir", target, "--mirror", url, expect_success=False)
            assert "cifar-10-binary.tar.gz: MD5 is " + md5 + ", expected c32a1d4ab5d03f1284b67883e8d87530" in process.stderr, process.stderr
            assert os.listdir(os.path.join(target, "cifar-10")) == [], os.listdir(os.path.join(target, "cifar-10"))
            output = run("data", "download", "cifar-10", "--data-dir", target, "--mirror", url, "--archive-md5", md5).stdout
            assert "test_batch.bin: extracted from the archive, its MD5 verified" in output, output
            for name in names:
                assert open(os.path.join(target, "cifar-10", name), "rb").read() == open(os.path.join(batches, name), "rb").read(), name
            assert sorted(os.listdir(os.path.join(target, "cifar-10"))) == sorted(names), os.listdir(os.path.join(target, "cifar-10"))
            assert "data_batch_1.bin: present, 4 records" in run("data", "download", "cifar-10", "--data-dir", target, "--mirror", url).stdout
            cut = open(archive, "rb").read()
            open(archive, "wb").write(cut[: len(cut) // 2])
            cut_md5 = hashlib.md5(cut[: len(cut) // 2]).hexdigest()
            process = run("data", "download", "cifar-10", "--data-dir", os.path.join(folder, "other"), "--mirror", url, "--archive-md5", cut_md5, expect_success=False)
            assert "cifar-10-binary.tar.gz" in process.stderr and "truncated" in process.stderr, process.stderr
        finally:
            server.shutdown()
        metrics_path = os.path.join(folder, "metrics.json")
        run("train", "--dataset", "cifar-10", "--data-dir", target, "--offline", "--validation", "4", "--batch-size", "4",
            "--layers", "3x32x32,4x16x16,10", "--interactions", "conv4/s2/p1,dense", "--learning-rates", "0.1,0.05",
            "--epochs", "1", "--metrics-json", metrics_path)
        metrics = json.load(open(metrics_path))
        assert metrics["dataset"] == "cifar-10" and metrics["epochs"] == 1, metrics
        rejects(["train", "--dataset", "cifar-10", "--data-dir", target, "--offline", "--validation", "4", "--layers", "784,10",
                 "--learning-rates", "0.1"], "--layers", "3072 inputs")()


with tempfile.TemporaryDirectory() as empty:
    check("gradcheck: symmetric EP matches the exact gradient", gradcheck_symmetric)
    check("gradcheck: one-sided error is O(β)", gradcheck_one_sided_error_shrinks_like_beta)
    check("gradcheck: a survey over seeds states each case's hypotheses; an undefined cosine exits 3", gradcheck_survey_and_hypotheses)
    check("gradcheck: --layers with --random-shapes is refused", rejects(["gradcheck", "--random-shapes", "--layers", "4,3,2"], "--layers", "--random-shapes"))
    check("gradcheck on a convolutional network: centered EP matches implicit differentiation, error O(β²); one-sided O(β)", gradcheck_convolutional)
    check("gradcheck: a convolution that does not give the next layer's shape is refused",
          rejects(["gradcheck", "--layers", "1x6x6,2x3x3,4", "--interactions", "conv4/s2,dense"], "--interactions", "2×2×2"))
    check("gradcheck: pooling on the pc energy is refused",
          rejects(["gradcheck", "--layers", "1x6x6,2x3x3,4", "--interactions", "conv3/p1/pool2,dense", "--rule", "pc"], "--interactions", "no pooling with the pc energy"))
    check("gradcheck --minimizer exact-block: centered EP matches the exact gradient, with and without over-relaxation", gradcheck_exact_block)
    check("train: --epsilon with the exact-block minimizer is refused",
          rejects(["train", "--minimizer", "exact-block", "--epsilon", "0.5"], "--epsilon: expected no step size with the exact-block minimizer"))
    check("train: negative ε is rejected", rejects(["train", "--epsilon", "-0.5"], "--epsilon: expected"))
    check("train: zero batch is rejected", rejects(["train", "--batch-size", "0"], "--batch-size"))
    check("train: unknown preset is rejected", rejects(["train", "--preset", "nope"], "--preset", "scellier2017-net1"))
    check("train: missing data names the files and folder",
          rejects(["train", "--data-dir", empty, "--offline"], "train-images-idx3-ubyte.gz", empty))
    check("gradcheck: zero β is rejected", rejects(["gradcheck", "--beta", "0"], "--beta: expected a positive finite β"))
    check("gradcheck: PC, PC-Nudge, symmetric EP and weak-feedback CHL match backprop", gradcheck_unified_family)
    check("gradcheck: PC-Nudge with the cross-entropy matches backprop of the cross-entropy", gradcheck_cross_entropy)
    check("gradcheck: PC with the cross-entropy is rejected", rejects(["gradcheck", "--rule", "pc", "--cost", "cross-entropy"], "--cost"))
    check("gradcheck: pc-nudge on the Hopfield energy is rejected",
          rejects(["gradcheck", "--rule", "pc-nudge", "--energy", "hopfield"], "--energy"))
    check("gradcheck: a feedback gain above 1 is rejected", rejects(["gradcheck", "--rule", "chl", "--feedback-gain", "2"], "--feedback-gain", "γ"))
    check("gradcheck: a negative output precision is rejected", rejects(["gradcheck", "--rule", "pc", "--output-precision", "-0.1"], "--output-precision"))
    check("gradcheck: the generic --nudge of earlier versions names each rule's own", rejects(["gradcheck", "--nudge", "0.1"], "--nudge", "--lambda (pc-nudge)"))
    check("gradcheck: a setting the rule does not take is refused", rejects(["gradcheck", "--rule", "ep", "--lambda", "0.1"], "--lambda: rule ep does not take lambda"))
    check("gradcheck: NEP, TBP and RBP match the exact gradient; coupled learning's alignment is reported", gradcheck_new_rules)
    check("gradcheck: an unknown rule is rejected", rejects(["gradcheck", "--rule", "hebb"], "--rule", "pc-nudge"))
    check("stdp: JSON window, CSV and SVG", stdp_window_outputs)
    check("stdp: negative σ is rejected", rejects(["stdp", "--sigma", "-0.1"], "--sigma: expected a finite noise level"))
    check("stdp: zero time step is rejected", rejects(["stdp", "--dt-ms", "0"], "--dt-ms"))
    check("stdp: negative rate is rejected", rejects(["stdp", "--post-rate", "-10"], "--post-rate: expected a positive rate"))
    check("stdp: Δt outside the simulated trial is rejected",
          rejects(["stdp", "--window-ms", "300", "--duration-ms", "200"], "--window-ms", "--duration-ms"))
    check("train: pc-nudge on the Hopfield energy is rejected",
          rejects(["train", "--rule", "pc-nudge", "--lambda", "0.1", "--energy", "hopfield"], "--energy: expected pc"))
    check("train: another rule on a run file needs its own nudge, named by its flag",
          rejects(["train", "--preset", "family-mlp", "--rule", "ep"], "missing the key 'rule.beta'", "--beta sets it"))
    check("train: a flag for a setting the rule does not take is refused",
          rejects(["train", "--preset", "family-mlp", "--rule", "ep", "--beta", "0.1", "--lambda", "0.1"], "--lambda: rule ep does not take lambda"))
    check("train: a dynamics flag for a rule that relaxes nothing is refused",
          rejects(["train", "--preset", "family-mlp", "--rule", "bp", "--nudged-steps", "3"], "--nudged-steps: rule bp relaxes nothing"))
    check("train: --free-steps on the feed-forward energy is refused",
          rejects(["train", "--preset", "family-mlp", "--free-steps", "3"], "--free-steps: expected no free steps on the pc energy"))
    check("train: the flags of earlier versions say what to write instead",
          lambda: [rejects(["train", *args], *fragments)() for args, fragments in (
              (["--symmetric"], ["--nudging centered"]), (["--random-sign"], ["--nudging random"]),
              (["--rule", "ep-symmetric"], ["--rule ep --nudging centered"]))])
    check("sweep: a variant's setting that its rule does not take is refused before any run",
          rejects(["sweep", "--preset", "family-mlp", "--variant", "rule=ep lambda=0.1", "--output", empty], "variant 'rule=ep lambda=0.1'", "--lambda"))
    check("sweep: --seed is refused (a sweep takes --seeds)", rejects(["sweep", "--seed", "3", "--output", empty], "--seed: a sweep takes its seeds"))
    check("train: augmenting an input that is not an image is refused by its flag",
          rejects(["train", "--random-shift", "2"], "--random-shift: expected an input layer of images", "not 784"))
    check("train: mirroring an input that is not an image is refused by its flag",
          rejects(["train", "--horizontal-flip"], "--horizontal-flip: expected an input layer of images"))
    check("train: a negative weight decay is rejected", rejects(["train", "--weight-decay", "-0.1"], "--weight-decay: expected a finite λ ≥ 0"))
    check("train: a validation split as large as the training set is refused by its key, without a usage banner",
          validation_split_too_large_is_refused)
    check("train: zero epochs are rejected (they would write no model)", rejects(["train", "--epochs", "0"], "--epochs: expected a positive number"))
    check("bench: zero epochs are rejected", rejects(["bench", "--epochs", "0"], "--epochs: expected a positive number"))
    check("bench: a variant with a setting the run cannot take is refused by name",
          rejects(["bench", "--variant", "minimizer=exact-block overrelaxation=2"], "variant 'minimizer=exact-block overrelaxation=2'", "overrelaxation"))
    check("bench --relaxation: a run setting it does not use is refused by name, pointing to its own flag",
          rejects(["bench", "--relaxation", "--overrelaxation", "1.7"], "--overrelaxation: bench --relaxation does not use", "--overrelaxations"))
    check("bench --relaxation: the second phase's minimizer is refused by name (it measures the free phase only)",
          rejects(["bench", "--relaxation", "--nudged-minimizer", "gradient-descent"], "--nudged-minimizer: bench --relaxation does not use", "free phase only"))
    check("bench --relaxation: with --model the model's settings are measured, so a setting flag is refused",
          rejects(["bench", "--relaxation", "--model", empty, "--tolerance", "0.001"], "--tolerance cannot be given with --model"))
    check("bench: --relaxation's flags without it are refused", rejects(["bench", "--examples", "40"], "--examples: it belongs to --relaxation"))
    check("align: zero λ is rejected", rejects(["align", "--nudges", "0,0.1"], "--nudges"))
    check("align: PC with the cross-entropy is rejected", rejects(["align", "--rule", "pc", "--cost", "cross-entropy"], "--cost"))
    check("align: an unknown activation is rejected", rejects(["align", "--hidden-activation", "softsign"], "--hidden-activation"))
    check("plot: a folder without metrics is refused by name", rejects(["plot", empty], "metrics.jsonl", "--output DIR"))
    check("align --gdu: zero β is rejected", rejects(["align", "--gdu", "--nudges", "0"], "--nudges"))
    check("align --gdu: more nudged steps than free steps are rejected",
          rejects(["align", "--gdu", "--steps", "50", "--free-steps", "10"], "--steps", "--free-steps"))
    if data:
        check("align: PC-Nudge on real MNIST, JSON, CSV and SVG", align_sweep)
        check("align --gdu: EP's step updates match BPTT's gradients on real MNIST", align_gdu)
        check("train --output DIR --quiet writes the run folder, refuses an uncreatable one; plot draws it and names a damaged line", run_folder_and_plot)
        check("train + evaluate on real MNIST, metrics JSON", train_and_evaluate)
        check("train --minimizer exact-block: relaxes to the tolerance, run.yaml records it", train_exact_block)
        check("train: the first line names the weight decay when there is one", weight_decay_is_announced)
        check("train --layers 1x28x28,… --interactions conv…: a convolutional network trains and replays; bad shapes refused", train_convolutional)
        check("bench --relaxation: steps to the tolerance per minimizer, JSON", bench_relaxation)
        check("train: a diverging run is reported", divergence_is_reported)
        check("output files: folders are created; an impossible path is refused by its flag (train: before training)", output_files_get_their_folders)
        check("train: PC-Nudge and backprop on the predictive-coding energy", train_predictive_coding)
        check("bench: a PC epoch's products counted and timed by shape, JSON; a convolutional network's convolutions apart", bench_counts_products)
        check("bench --variant: the run and its variants timed in turn, steps per phase, JSON", bench_side_by_side)
        check("train RUN.yaml: bad run files name the key and the line", run_file_errors)
        check("sweep: every run of the grid in its folder, a summary over the seeds, finished runs skipped", sweep_runs_and_summarises)
        check("train RUN.yaml: bit-identical metrics for the same seed, flags override, run.yaml replays", run_file_is_deterministic_and_flags_override)
        check("train --resume: SIGKILL mid-epoch then resume equals an uninterrupted run; NumPy opens the .npz; a truncated checkpoint is refused", resume_after_sigkill)
        check("data download: a local server's files verified, a partial download resumed, a corrupted file rejected", data_download)
        check("mpirun -np 2 train: each batch split over 2 ranks matches one process; 1 rank is bit for bit the plain run; refusals named", mpi_data_parallel)
        check("mpirun -np 2 train: a rank killed mid-epoch ends the job; --resume on 2 ranks equals an uninterrupted run", mpi_rank_killed_then_resumed)
        check("mpirun -np 2 sweep: the runs shared out among the ranks, one summary", mpi_sweep)
    check("data download cifar-10: an archive served on 127.0.0.1 checked by MD5, extracted, trained on; a truncated one refused", cifar_download_and_train)

failed = sum(1 for _, error in results if error)
print(f"cli-checks: {len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)

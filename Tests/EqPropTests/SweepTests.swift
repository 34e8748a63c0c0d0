import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing
import TrainingRuns

@Suite("Sweeps over seeds and variants")
struct SweepTests {
    @Test("Variants parse from flag=value words; a grid is the product of its axes; folders are named after the settings")
    func variants() throws {
        let variant = try Sweep.Variant(parsing: "rule=pc-nudge  lambda=0.1")
        #expect(variant.settings == [.init(flag: "rule", text: "pc-nudge"), .init(flag: "lambda", text: "0.1")])
        #expect(variant.label == "rule=pc-nudge lambda=0.1" && variant.folderName == "rule-pc-nudge_lambda-0.1")
        #expect(try Sweep.Variant(parsing: "--beta=0.5").settings == [.init(flag: "beta", text: "0.5")])
        for bad in ["lambda", "betta=1", "rule="] {
            #expect(throws: RunFileError.self, "\(bad)") { try Sweep.Variant(parsing: bad) }
        }
        let grid = Sweep.Variant.grid([("beta", ["0.1", "0.01"]), ("nudging", ["positive", "centered"])])
        #expect(grid.map(\.label) == ["beta=0.1 nudging=positive", "beta=0.1 nudging=centered", "beta=0.01 nudging=positive", "beta=0.01 nudging=centered"])
        #expect(Sweep.Variant.grid([]).map(\.label) == ["base"])
    }

    @Test("Every run is resolved and checked first: variant by variant, seed by seed, each in its own folder")
    func runs() throws {
        let folder = URL(fileURLWithPath: "/tmp/sweep")
        let sweep = Sweep(base: try RunFile.presetSettings("family-mlp"),
                          variants: [try .init(parsing: "rule=bp"), try .init(parsing: "rule=ep beta=0.1 nudging=centered")], seeds: [3, 4], folder: folder)
        let runs = try sweep.runs()
        #expect(runs.map(\.seed) == [3, 4, 3, 4] && runs.map { $0.runFile.specification.learning.seed } == [3, 4, 3, 4])
        #expect(runs[2].runFile.specification.learning.rule == .ep(beta: 0.1, nudging: .centered))
        #expect(runs[1].folder.path == "/tmp/sweep/rule-bp/seed-4" && runs[1].runFile.output == "/tmp/sweep/rule-bp/seed-4")
        let bad = Sweep(base: try RunFile.presetSettings("family-mlp"), variants: [try .init(parsing: "rule=ep")], seeds: [1], folder: folder)
        #expect(throws: RunFileError.self, "ep needs its β") { _ = try bad.runs() }
    }

    @Test("The summary gives each statistic's mean and sample standard deviation over the seeds")
    func statistics() throws {
        let statistic = try #require(SweepSummary.Statistic([0.01, 0.02, 0.03]))
        #expect(abs(statistic.mean - 0.02) < 1e-15 && abs(statistic.standardDeviation! - 0.01) < 1e-15 && statistic.count == 3)
        #expect(statistic.formatted() == "2.00 ± 1.00")
        #expect(SweepSummary.Statistic([0.5])?.standardDeviation == nil && SweepSummary.Statistic([]) == nil)
    }

    @Test("A sweep's runs train into their folders, and the summary reads them back")
    func summaryOfRuns() throws {
        let folder = try temporaryFolder()
        var base = try RunFile.presetSettings("family-mlp")
        var overrides = RunSettings(source: "test")
        for (flag, text) in [("layers", "784,8,10"), ("learning-rates", "0.01,0.01"), ("epochs", "2")] { overrides.set(RunKey.flagged(flag)!, fromFlag: text) }
        base = base.overriding(with: overrides)
        let sweep = Sweep(base: base, variants: [try .init(parsing: "rule=bp")], seeds: [1, 2], folder: folder)
        let images = ComposedRunTests().images(count: 60, seed: 1)
        for run in try sweep.runs() {
            #expect(!Sweep.isComplete(run))
            var training = try TrainingRun(run.runFile, name: "t", data: DataSplits(training: images, validation: images, test: images),
                                           folder: try RunFolder(path: run.folder.path))
            try training.train()
            #expect(Sweep.isComplete(run))
        }
        let summary = try sweep.summary()
        #expect(summary.rows.count == 1 && summary.rows[0].seeds == [1, 2] && summary.rows[0].epochs == [2, 2])
        #expect(summary.rows[0].selectedTestError?.count == 2 && summary.markdown.contains("| rule=bp | 1, 2 |"))
        try summary.write(to: folder)
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("summary.csv").path))
    }
}

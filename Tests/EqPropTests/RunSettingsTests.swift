import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing
import TrainingRuns

/// Flags over run files, the one vocabulary of rules, and the run files, checkpoints and models of
/// earlier versions.
@Suite("Run settings: flags, rules and earlier versions")
struct RunSettingsTests {
    /// The preset `name` with `flags` (`["rule", "ep"]` pairs) applied as the command line does.
    func resolve(_ name: String, _ flags: [(String, String)]) throws -> RunFile {
        var overrides = RunSettings(source: "the command line")
        for (flag, text) in flags { overrides.set(try #require(RunKey.flagged(flag)), fromFlag: text) }
        return try RunFile(settings: RunFile.presetSettings(name).overriding(with: overrides))
    }

    func refusal(_ name: String, _ flags: [(String, String)]) -> RunFileError? {
        do {
            _ = try resolve(name, flags)
            return nil
        } catch let error as RunFileError {
            return error
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test("A convolutional network in a run file: shapes CxHxW and convK/sS/pP/poolM interactions, written back as read")
    func convolutionalRunFile() throws {
        let run = try RunFile(yaml: """
            seed: 1
            architecture:
              layers: [1x28x28, 8x14x14, 4x14x14, 4x7x7, 10]
              interactions: [conv4/s2/p1, conv3/p1, conv3/p1/pool2, dense]
            dynamics: {epsilon: 0.5, free-steps: 20, nudged-steps: 4}
            rule: {name: ep, beta: 0.5}
            training: {epochs: 1, batch-size: 20, learning-rates: [0.1, 0.1, 0.1, 0.05]}
            """, file: "conv.yaml")
        let architecture = run.specification.learning.architecture
        #expect(architecture.layers.map(\.dimensions) == [[1, 28, 28], [8, 14, 14], [4, 14, 14], [4, 7, 7], [10]])
        #expect(architecture.interactions == [.convolution(lower: 0, upper: 1, kernel: 4, stride: 2, padding: 1),
                                              .convolution(lower: 1, upper: 2, kernel: 3, stride: 1, padding: 1),
                                              .convolution(lower: 2, upper: 3, kernel: 3, stride: 1, padding: 1, pooling: 2), .dense(lower: 3, upper: 4)])
        #expect(run.yaml.contains("interactions: [conv4/s2/p1, conv3/p1, conv3/p1/pool2, dense]"))
        #expect(try RunFile(yaml: run.yaml, file: "written.yaml") == run)
        let dense = try #require(RunFile.presets["scellier2017-net1"])
        #expect(!dense.yaml.contains("interactions"), "a dense network's run file stays as it was")
    }

    @Test("Initial gains scale each interaction's Glorot-uniform weights, on both energies; a wrong count or gain is refused by key")
    func initialGains() throws {
        let yaml = """
            seed: 3
            architecture:
              layers: [1x6x6, 2x3x3, 4]
              interactions: [conv2/s2, dense]
              gains: [0.5, 2.0]
            dynamics: {epsilon: 0.5, free-steps: 20, nudged-steps: 4}
            rule: {name: ep, beta: 0.5}
            training: {epochs: 1, batch-size: 20, learning-rates: [0.1, 0.05]}
            """
        let run = try RunFile(yaml: yaml, file: "gains.yaml")
        #expect(run.specification.learning.architecture.initialGains == [0.5, 2])
        #expect(run.yaml.contains("  gains: [0.5, 2.0]"))
        #expect(try RunFile(yaml: run.yaml, file: "written.yaml") == run)
        for energy in [EnergySpecification.hopfield, .predictiveCoding(hidden: .tanh, output: .identity)] {
            var plain = run.specification.learning.architecture
            plain.initialGains = nil
            var first = SeededGenerator(seed: 3), second = SeededGenerator(seed: 3)
            let scaled: LayeredEnergy<Double> = energy.make(architecture: run.specification.learning.architecture, using: &first)
            let unscaled: LayeredEnergy<Double> = energy.make(architecture: plain, using: &second)
            let weights = { (e: LayeredEnergy<Double>) in e.parameters.filter { !$0.isEmpty }.map { $0[0] }.prefix(2) }
            for (gain, (a, b)) in zip([0.5, 2.0], zip(weights(scaled), weights(unscaled))) {
                #expect(a.elements == b.elements.map { $0 * gain }, "\(energy.kind)")
            }
        }
        for (gains, expected) in [("[1]", "one positive gain per interaction (2)"), ("[0, 1]", "one positive gain per interaction (2)")] {
            #expect(throws: RunFileError.self) {
                try RunFile(yaml: yaml.replacingOccurrences(of: "[0.5, 2.0]", with: gains), file: "bad.yaml")
            }
            do {
                _ = try RunFile(yaml: yaml.replacingOccurrences(of: "[0.5, 2.0]", with: gains), file: "bad.yaml")
            } catch {
                #expect("\(error)".contains("architecture.gains") && "\(error)".contains(expected), "\(error)")
            }
        }
    }

    @Test("Every setting has one key and one flag, and every section's keys are unique")
    func keyTable() {
        #expect(Set(RunKey.all.map(\.key)).count == RunKey.all.count && Set(RunKey.all.map(\.flag)).count == RunKey.all.count)
        #expect(RunKey.flagged("rule")?.key == "rule.name" && RunKey.flagged("energy")?.key == "energy.kind"
            && RunKey.flagged("layers")?.key == "architecture.layers")
        // Every rule's settings are keys of the rule section.
        for name in RuleName.allCases { #expect(name.settings.allSatisfy { RunKey.named("rule.\($0)") != nil }, "\(name)") }
    }

    @Test("A flag overrides the file; another rule keeps the file's settings it takes and needs its own nudge")
    func ruleSwitch() throws {
        let ep = try resolve("family-mlp", [("rule", "ep"), ("beta", "0.1")]).specification.learning
        #expect(ep.rule == .ep(beta: 0.1, nudging: .positive) && ep.energy.kind == .pc && ep.training.optimizer == .adam)
        let stdp = try resolve("scellier2017-net1", [("rule", "stdp")]).specification.learning
        #expect(stdp.rule == .stdp(beta: 1, nudging: .random, form: .symmetric), "the file's β and nudging are stdp's too")
        let missing = refusal("family-mlp", [("rule", "ep")])
        #expect(missing?.message.contains("missing the key 'rule.beta'") == true && missing?.message.contains("--beta sets it") == true, "\(String(describing: missing))")
    }

    @Test("Another energy drops the file's settings of the energy it replaces")
    func energySwitch() throws {
        let run = try resolve("scellier2017-net1", [("energy", "pc"), ("rule", "pc-nudge"), ("lambda", "0.1")]).specification.learning
        #expect(run.dynamics.freeSteps == nil && !run.dynamics.persistentParticles && run.energy == .predictiveCoding(hidden: .relu, output: .identity))
        let back = refusal("family-mlp", [("energy", "hopfield"), ("rule", "ep"), ("beta", "0.1")])
        #expect(back?.message.contains("dynamics.free-steps (not given): expected a positive number of free steps") == true, "\(String(describing: back))")
    }

    @Test("A setting that the run does not use is refused, by its flag or at its line",
          arguments: [
              ([("rule", "ep"), ("beta", "0.1"), ("lambda", "0.1")], "--lambda", "rule ep does not take lambda (its settings: beta, nudging)"),
              ([("rule", "pc-nudge"), ("beta", "0.1")], "--beta", "its nudge λ is lambda"),
              ([("rule", "bp"), ("epsilon", "0.1")], "--epsilon", "rule bp relaxes nothing"),
              ([("free-steps", "3")], "--free-steps", "expected no free steps on the pc energy"),
              ([("rule", "tbp"), ("noise", "0.01")], "--noise", "it differentiates the dynamics"),
              ([("energy", "hopfield"), ("free-steps", "3"), ("hidden-activation", "tanh")], "--hidden-activation", "the hopfield energy has no activations"),
          ])
    func refusedSettings(flags: [(String, String)], place: String, fragment: String) {
        let error = refusal("family-mlp", flags)
        #expect(error?.file == place && error?.line == nil, "\(String(describing: error))")
        #expect(error?.message.contains(fragment) == true, "\(String(describing: error))")
    }

    @Test("A rule's setting in a run file that another rule takes is refused at its line")
    func refusedInFile() {
        let text = RunFile.presets["scellier2017-net1"]!.yaml.replacingOccurrences(of: "  nudging: random\n", with: "  nudging: random\n  lambda: 0.3\n")
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("lambda") }! + 1
        #expect(throws: RunFileError(file: "net1.yaml", line: line, message: "rule.lambda: rule ep does not take lambda (its settings: beta, nudging)")) {
            try RunFile(yaml: text, file: "net1.yaml")
        }
    }

    @Test("Every rule reads back from its run file", arguments: [
        RuleSpecification.ep(beta: 0.5, nudging: .centered), .stdp(beta: 0.5, nudging: .negative, form: .postsynaptic), .chl(feedbackGain: 0.25),
        .cpl(beta: 0.5, nudging: .random), .tbp, .rbp,
    ])
    func rulesRoundTrip(rule: RuleSpecification) throws {
        var run = RunFile.presets["scellier2017-net1"]!
        run.specification.learning.rule = rule
        #expect(try RunFile(yaml: run.yaml, file: "rule.yaml") == run)
    }

    @Test("Run files of earlier versions are refused with what to write instead", arguments: [
        ("  nudging: random\n", "  random-sign: true\n  nudging: one-sided\n", "unknown key 'rule.random-sign'", "nudging: random"),
        ("  nudging: random\n", "  nudging: symmetric\n", "expected one of positive, negative, centered, random", "now 'centered'"),
        ("  name: ep\n", "  name: ep-symmetric\n", "'rule.name': expected one of", "'name: ep' with 'nudging: centered'"),
        ("  persistent-particles: false\n", "  persistent-particles: false\nrule-persistent: x\n", "unknown key 'rule-persistent'", "expected one of"),
    ])
    func earlierRunFiles(replaced: String, by old: String, fragment: String, hint: String) throws {
        let text = RunFile.presets["scellier2017-net1"]!.yaml.replacingOccurrences(of: replaced, with: old)
        do {
            _ = try RunFile(yaml: text, file: "old.yaml")
            Issue.record("an earlier version's run file was read as it is")
        } catch let error as RunFileError {
            #expect(error.message.contains(fragment) && error.message.contains(hint), "\(error)")
        }
    }

    /// A fixture written by an earlier version (see Fixtures/README.md).
    func fixture(_ path: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").appendingPathComponent(path)
    }

    @Test("Checkpoints of an earlier version load, their runs converted to the runs they were, and resume")
    func earlierCheckpoints() throws {
        let net1 = try Checkpoint(contentsOf: fixture("version1-net1/checkpoints/epoch-0001.npz"))
        let net1Run = try #require(try net1.runFile(file: "net1")).specification.learning
        #expect(net1.metadata.format == Checkpoint.format && net1Run.rule == .ep(beta: 1, nudging: .random))
        #expect(net1Run.architecture.layerSizes == [784, 3, 10] && net1Run.dynamics.freeSteps == 20 && !net1Run.dynamics.persistentParticles)
        let pcNudge = try Checkpoint(contentsOf: fixture("version1-pc-nudge/checkpoints/epoch-0001.npz"))
        let pcNudgeRun = try #require(try pcNudge.runFile(file: "pc-nudge")).specification.learning
        #expect(pcNudgeRun.rule == .pcNudge(lambda: 0.1) && pcNudgeRun.dynamics.freeSteps == nil && pcNudgeRun.training.optimizer == .adam)
        var trainer: Trainer<Float> = try pcNudgeRun.makeTrainer(trainingCount: 200)
        try pcNudge.restore(into: &trainer, file: "pc-nudge")
        #expect(trainer.epochsTrained == 1 && trainer.optimizer.memory.slots.keys.sorted() == ["m", "v"] && trainer.optimizer.memory.steps == 4)
        #expect(trainer.energy.parameters[0][0] == pcNudge.arrays["W0-1"])
    }

    @Test("Models saved by an earlier version load, with the run they were trained by")
    func earlierModels() throws {
        let (energy, run) = try ModelArchive.load(from: fixture("version1-pc-nudge/model"), as: Float.self)
        #expect(run.learning.rule == .pcNudge(lambda: 0.1) && run.data.dataset == .mnist && run.learning.training.weightDecay == 0.5)
        let checkpoint = try Checkpoint(contentsOf: fixture("version1-pc-nudge/checkpoints/epoch-0001.npz"))
        #expect(energy.parameters[1][1] == checkpoint.arrays["b2"])
        let (_, net1) = try ModelArchive.load(from: fixture("version1-net1/model"), as: Float.self)
        #expect(net1.learning.rule == .ep(beta: 1, nudging: .random) && net1.learning.energy == .hopfield)
    }
}

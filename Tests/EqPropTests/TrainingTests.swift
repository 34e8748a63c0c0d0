import Datasets
import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing
import TrainingRuns

@Suite("Training")
struct TrainingTests {
    var net1: LearningSpecification { RunFile.presets["scellier2017-net1"]!.specification.learning }

    @Test("Presets carry the paper code's hyperparameters, translated to C = ½‖y − d‖²")
    func presets() throws {
        let net1 = self.net1
        #expect(net1.architecture.layerSizes == [784, 500, 10] && net1.training.epochs == 25 && net1.training.batchSize == 20)
        #expect(net1.dynamics.freeSteps == 20 && net1.dynamics.nudgedSteps == 4 && net1.dynamics.stepSize == 0.5)
        #expect(net1.rule == .ep(beta: 1, nudging: .random) && net1.training.learningRates == [0.2, 0.1])
        let net2 = RunFile.presets["scellier2017-net2"]!.specification.learning
        #expect(net2.architecture.layerSizes == [784, 500, 500, 10] && net2.training.epochs == 60)
        #expect(net2.dynamics.freeSteps == 150 && net2.dynamics.nudgedSteps == 6)
        #expect(net2.rule == .ep(beta: 2, nudging: .positive) && net2.training.learningRates == [0.8, 0.2, 0.02])
        let net3 = RunFile.presets["scellier2017-net3"]!.specification.learning
        #expect(net3.architecture.layerSizes == [784, 500, 500, 500, 10] && net3.training.epochs == 500)
        #expect(net3.dynamics.freeSteps == 500 && net3.dynamics.nudgedSteps == 8 && net3.training.learningRates == [0.256, 0.064, 0.016, 0.004])
        let family = RunFile.presets["family-mlp"]!.specification.learning
        #expect(family.rule == .pc(outputPrecision: 0.1) && family.dynamics.freeSteps == nil && family.energy == .predictiveCoding(hidden: .relu, output: .identity))
        let pcx = RunFile.presets["pcx-mlp"]!.specification
        #expect(pcx.learning.architecture.layerSizes == [784, 128, 128, 128, 10] && pcx.learning.energy == .predictiveCoding(hidden: .gelu, output: .identity))
        #expect(pcx.learning.rule == .pc(outputPrecision: 1) && pcx.data.pixels == .symmetric && pcx.learning.training.batchSize == 128)
        let convolutions: [InteractionSpecification] = [.convolution(lower: 0, upper: 1, kernel: 5, stride: 2, padding: 2),
                                                         .convolution(lower: 1, upper: 2, kernel: 5, stride: 2, padding: 2), .dense(lower: 2, upper: 3)]
        for (name, channels) in [("conv-mnist", [16, 32]), ("conv-fashion-mnist", [16, 32]), ("conv-fashion-mnist-pc", [32, 64])] {
            let conv = RunFile.presets[name]!.specification.learning
            #expect(conv.architecture.layers.map(\.description) == ["1×28×28", "\(channels[0])×14×14", "\(channels[1])×7×7", "10"])
            #expect(conv.architecture.interactions == convolutions)
            #expect(conv.training.epochs == 10 && conv.training.batchSize == 32 && conv.training.optimizer == .adam)
        }
        for name in ["conv-mnist", "conv-fashion-mnist"] {
            let convEP = RunFile.presets[name]!.specification.learning
            #expect(convEP.rule == .ep(beta: 0.1, nudging: .centered) && convEP.dynamics.minimizer == .exactBlock && convEP.dynamics.overrelaxation == 1.6)
            #expect(convEP.architecture.initialGains == [0.5, 0.5, 0.5], "full dense weights start the outputs saturated and some seeds never leave")
        }
        #expect(RunFile.presets["conv-fashion-mnist-pc"]!.specification.learning.rule == .pc(outputPrecision: 0.1))
        for (name, preset) in RunFile.presets {
            try preset.specification.learning.validate()
            // The convolutional presets hold out 5,000 images (their probes did), the others the paper code's 10,000.
            #expect(preset.specification.data.validation == (name.hasPrefix("conv-") ? 5_000 : 10_000), "every preset chooses its epoch on held-out examples")
        }
    }

    static let impossibleSettings: [(String, LearningSpecification)] = {
        let net1 = RunFile.presets["scellier2017-net1"]!.specification.learning
        func changed(_ change: (inout LearningSpecification) -> Void) -> LearningSpecification {
            var specification = net1
            change(&specification)
            return specification
        }
        /// A convolution (kernel 4, stride 2, padding 1 unless told) from the first layer to the second,
        /// then a dense interaction.
        let pooled = ArchitectureSpecification(layers: [[1, 28, 28], [4, 14, 14], [10]].map(LayerShape.init(dimensions:)),
                                               interactions: [.convolution(lower: 0, upper: 1, kernel: 3, stride: 1, padding: 1, pooling: 2),
                                                              .dense(lower: 1, upper: 2)])
        func convolutional(_ shapes: [[Int]], kernel: Int = 4) -> ArchitectureSpecification {
            ArchitectureSpecification(layers: shapes.map(LayerShape.init(dimensions:)),
                                      interactions: [.convolution(lower: 0, upper: 1, kernel: kernel, stride: 2, padding: 1), .dense(lower: 1, upper: 2)])
        }
        func onPredictiveCoding(_ rule: RuleSpecification) -> (inout LearningSpecification) -> Void {
            { $0.energy = .predictiveCoding(hidden: .relu, output: .identity); $0.dynamics.freeSteps = nil; $0.rule = rule }
        }
        return [
            ("architecture.layers", changed { $0.architecture = ArchitectureSpecification(layerSizes: [784]) }),
            ("architecture.layers", changed { $0.architecture = ArchitectureSpecification(layerSizes: [784, 0, 10]) }),
            ("architecture.layers", changed { $0.architecture = convolutional([[28, 28], [4, 14, 14], [10]]) }),
            ("architecture.interactions", changed { $0.architecture = convolutional([[1, 28, 28], [4, 13, 13], [10]]) }),
            ("architecture.interactions", changed { $0.architecture = convolutional([[1, 28, 28], [4, 14, 14], [10]], kernel: 31) }),
            ("architecture.interactions", changed { $0.architecture = convolutional([[784], [784], [10]]) }),
            ("architecture.interactions", changed {
                $0.architecture.interactions = [.dense(lower: 0, upper: 2), .dense(lower: 1, upper: 2)]
            }),
            ("architecture.interactions", changed {
                $0.architecture = pooled
                onPredictiveCoding(.pcNudge(lambda: 0.1))(&$0)
            }),
            ("dynamics.minimizer", changed {
                $0.architecture = pooled
                $0.dynamics = DynamicsSpecification(minimizer: .exactBlock, stepSize: nil, freeSteps: 20, nudgedSteps: 4)
            }),
            ("dynamics.epsilon", changed { $0.dynamics.stepSize = -0.5 }),
            ("dynamics.free-steps", changed { $0.dynamics.freeSteps = 0 }),
            ("dynamics.free-steps", changed { $0.energy = .predictiveCoding(hidden: .relu, output: .identity); $0.rule = .bp }),
            ("dynamics.persistent-particles", changed { onPredictiveCoding(.bp)(&$0); $0.dynamics.persistentParticles = true }),
            ("dynamics.nudged-steps", changed { $0.dynamics.nudgedSteps = 0 }),
            ("dynamics.noise", changed { $0.dynamics.noise = -0.1 }),
            ("dynamics.noise", changed { $0.rule = .tbp; $0.dynamics.noise = 0.1 }),
            ("dynamics.noise", changed { $0.rule = .rbp; $0.dynamics.noise = 0.1 }),
            ("rule.beta", changed { $0.rule = .ep(beta: 0, nudging: .positive) }),
            ("rule.beta", changed { $0.rule = .ep(beta: -1, nudging: .positive) }),
            ("rule.beta", changed { $0.rule = .cpl(beta: .infinity, nudging: .centered) }),
            ("rule.feedback-gain", changed { $0.rule = .chl(feedbackGain: 2) }),
            ("energy.kind", changed { $0.rule = .pcNudge(lambda: 0.1) }),
            ("energy.kind", changed { $0.rule = .bp }),
            ("energy.kind", changed { $0.rule = .pc(outputPrecision: 0.1) }),
            ("energy.kind", changed(onPredictiveCoding(.stdp(beta: 1, nudging: .positive, form: .symmetric)))),
            ("energy.kind", changed(onPredictiveCoding(.chl(feedbackGain: 0.5)))),
            ("rule.output-precision", changed(onPredictiveCoding(.pc(outputPrecision: -0.1)))),
            ("rule.lambda", changed(onPredictiveCoding(.pcNudge(lambda: 0)))),
            ("training.cost", changed { $0.rule = .chl(feedbackGain: 1); $0.training.cost = .crossEntropy }),
            ("training.epochs", changed { $0.training.epochs = 0 }),
            ("training.batch-size", changed { $0.training.batchSize = 0 }),
            ("training.learning-rates", changed { $0.training.learningRates = [0.1] }),
            ("training.learning-rates", changed { $0.training.learningRates = [0.1, .nan] }),
            ("training.weight-decay", changed { $0.training.weightDecay = -0.01 }),
            ("training.weight-decay", changed { $0.training.weightDecay = 5 }),  // α₀·λ = 0.2·5 ≥ 1 would flip every weight's sign
        ]
    }()

    @Test("Impossible settings are refused, naming the run-file key", arguments: impossibleSettings)
    func validation(key: String, specification: LearningSpecification) {
        do {
            try specification.validate()
            Issue.record("\(key) should have been refused")
        } catch let error as SpecificationError {
            #expect(error.key == key, "\(error)")
            #expect(error.description.hasPrefix("\(key):"))
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    /// A small synthetic problem: 4×4 images of two classes (bright top or bright bottom).
    func synthetic(count: Int, seed: UInt64) -> ClassificationData<Float> {
        var generator = SeededGenerator(seed: seed)
        var inputs = Matrix<Float>(rows: count, columns: 16)
        var labels: [Int] = []
        for row in 0..<count {
            let label = Int.random(in: 0..<2, using: &generator)
            labels.append(label)
            for j in 0..<16 {
                let bright = (j < 8) == (label == 0)
                inputs[row, j] = bright ? Float.random(in: 0.6...1, using: &generator) : Float.random(in: 0...0.3, using: &generator)
            }
        }
        return ClassificationData(inputs: inputs, labels: labels, classCount: 2)
    }

    /// net1's settings on a 16-8-2 network, batches of 10.
    func small() -> LearningSpecification {
        var c = net1
        c.architecture = ArchitectureSpecification(layerSizes: [16, 8, 2])
        c.training.batchSize = 10
        return c
    }

    @Test("Training is deterministic for a seed and learns a separable problem")
    func deterministicLearning() throws {
        let data = synthetic(count: 400, seed: 1)
        var first: Trainer<Float> = try small().makeTrainer(trainingCount: data.count)
        var second: Trainer<Float> = try small().makeTrainer(trainingCount: data.count)
        var measurements: [Trainer<Float>.Measurement] = []
        for _ in 0..<5 {
            let a = try first.trainEpoch(on: data)
            let b = try second.trainEpoch(on: data)
            #expect(a == b)
            measurements.append(a)
        }
        #expect(first.energy.parameters == second.energy.parameters)
        let test = try first.evaluate(on: synthetic(count: 200, seed: 2))
        #expect(test.error < 0.05, "test error \(test.error)")
        #expect(measurements.last!.cost < measurements.first!.cost)
    }

    @Test("The STDP rule trains the separable problem, with and without Langevin noise, under every sign policy",
          arguments: [(0.0, Nudging.positive), (0.01, .positive), (0, .random), (0, .centered)])
    func stdpLearns(noise: Double, nudging: Nudging) throws {
        var c = small()
        c.rule = .stdp(beta: 1, nudging: nudging, form: .symmetric)
        c.dynamics.noise = noise
        let data = synthetic(count: 400, seed: 1)
        var trainer: Trainer<Float> = try c.makeTrainer(trainingCount: data.count)
        for _ in 0..<5 { _ = try trainer.trainEpoch(on: data) }
        let test = try trainer.evaluate(on: synthetic(count: 200, seed: 2))
        #expect(test.error < 0.05, "test error \(test.error)")
    }

    /// The small network on the predictive-coding energy, trained with `rule`.
    func predictiveCoding(rule: RuleSpecification) -> LearningSpecification {
        var c = small()
        c.energy = .predictiveCoding(hidden: .tanh, output: .identity)
        c.dynamics.freeSteps = nil
        c.rule = rule
        c.dynamics.stepSize = 0.1
        c.dynamics.nudgedSteps = 50
        c.training.learningRates = [0.1, 0.1]
        return c
    }

    @Test("Every rule trains the separable problem on the predictive-coding energy",
          arguments: [RuleSpecification.bp, .pcNudge(lambda: 0.1), .pc(outputPrecision: 0.5), .ep(beta: 0.1, nudging: .positive),
                      .ep(beta: 0.1, nudging: .negative), .ep(beta: 0.1, nudging: .centered), .chl(feedbackGain: 1),
                      .cpl(beta: 0.1, nudging: .positive), .cpl(beta: 0.1, nudging: .centered), .tbp, .rbp])
    func predictiveCodingRulesLearn(rule: RuleSpecification) throws {
        let data = synthetic(count: 400, seed: 1)
        var trainer: Trainer<Float> = try predictiveCoding(rule: rule).makeTrainer(trainingCount: data.count)
        #expect(trainer.freeDynamics is FeedForwardPass<Float>, "the free phase is the feed-forward pass")
        var costs: [Double] = []
        for _ in 0..<5 { costs.append(try trainer.trainEpoch(on: data).cost) }
        let test = try trainer.evaluate(on: synthetic(count: 200, seed: 2))
        #expect(test.error < 0.05, "\(rule): test error \(test.error)")
        #expect(costs.last! < costs.first!, "\(rule): costs \(costs)")
    }

    @Test("A training epoch reports its phases: free-phase steps and settling, the second phase's mean steps under a tolerance")
    func phaseStatistics() throws {
        var c = predictiveCoding(rule: .pcNudge(lambda: 0.1))
        c.dynamics.tolerance = 1e-6
        c.dynamics.nudgedSteps = 5000
        let data = synthetic(count: 100, seed: 1)
        var trainer: Trainer<Float> = try c.makeTrainer(trainingCount: data.count)
        let measured = try trainer.trainEpoch(on: data)
        #expect(measured.freeSteps == 1 && measured.freeExampleSteps == 1 && measured.unsettledFraction == 0, "the feed-forward pass is exact")
        let steps = try #require(measured.secondPhaseSteps), exampleSteps = try #require(measured.secondPhaseExampleSteps)
        #expect(steps > 5 && steps < 5000 && measured.secondPhaseUnsettledFraction == 0, "\(measured)")
        #expect(exampleSteps > 1 && exampleSteps < steps, "each example stops once settled, before its batch's slowest: \(measured)")
        var hopfield: Trainer<Float> = try small().makeTrainer(trainingCount: data.count)
        let fixed = try hopfield.trainEpoch(on: data)
        #expect(fixed.freeSteps == 20 && fixed.secondPhaseSteps == 4 && fixed.unsettledFraction > 0, "20 steps from zero leave some examples unsettled: \(fixed)")
        #expect(fixed.freeExampleSteps == 20 && fixed.secondPhaseExampleSteps == 4, "without a tolerance every example takes every step")
    }

    @Test("A predictive-coding model saves and loads back identically, with its run")
    func predictiveCodingArchive() throws {
        let folder = try temporaryFolder()
        let run = RunSpecification(data: DataSpecification(dataset: .fashionMNIST), learning: predictiveCoding(rule: .pcNudge(lambda: 0.1)))
        let trainer: Trainer<Float> = try run.learning.makeTrainer(trainingCount: 0)
        try ModelArchive.save(trainer.energy, run: run, to: folder)
        let (energy, loaded) = try ModelArchive.load(from: folder, as: Float.self)
        #expect(loaded == run && energy.parameters == trainer.energy.parameters)
        #expect(energy.terms.allSatisfy { $0 is PredictionError<Float> })
    }

    @Test("A diverging run stops with an error instead of training on NaN")
    func divergence() throws {
        var c = small()
        c.training.learningRates = [1e38, 1e38]
        c.rule = .ep(beta: 1e-3, nudging: .random)
        let data = synthetic(count: 200, seed: 1)
        var trainer: Trainer<Float> = try c.makeTrainer(trainingCount: data.count)
        #expect(throws: Trainer<Float>.Failure.self) {
            for _ in 0..<3 { _ = try trainer.trainEpoch(on: data) }
        }
    }

    @Test("A saved model loads back identically; a damaged file is refused by name")
    func modelArchive() throws {
        let folder = try temporaryFolder()
        let run = RunSpecification(data: DataSpecification(), learning: small())
        let trainer: Trainer<Float> = try small().makeTrainer(trainingCount: 0)
        try ModelArchive.save(trainer.energy, run: run, to: folder)
        let (energy, loaded) = try ModelArchive.load(from: folder, as: Float.self)
        #expect(loaded == run)
        #expect(energy.parameters == trainer.energy.parameters)
        let weights = folder.appendingPathComponent("W0-1.npy")
        try Data(try Data(contentsOf: weights).dropLast(8)).write(to: weights)
        do {
            _ = try ModelArchive.load(from: folder, as: Float.self)
            Issue.record("a truncated weight file must be refused")
        } catch {
            #expect("\(error)".contains("W0-1.npy"))
        }
    }

    @Test("net1 learns real MNIST: one epoch on 5000 examples", .enabled(if: hasRealData, "needs $EQPROP_DATA"))
    func realMNIST() throws {
        let splits = try DataDirectory(url: realDataDirectory!).load(.mnist, download: false)
        let train = ClassificationData(splits.train.prefix(5000), pixels: .unit), test = ClassificationData(splits.test.prefix(2000), pixels: .unit)
        var trainer: Trainer<Float> = try net1.makeTrainer(trainingCount: train.count)
        let before = try trainer.evaluate(on: test)
        _ = try trainer.trainEpoch(on: train)
        let after = try trainer.evaluate(on: test)
        #expect(before.error > 0.5)
        #expect(after.error < 0.15, "test error after one epoch: \(after.error)")
    }
}

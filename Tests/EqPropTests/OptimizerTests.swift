import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing
import TrainingRuns

@Suite("Optimizers and learning-rate schedules")
struct OptimizerTests {
    @Test("Adam's first step moves every parameter by α against the sign of its gradient")
    func adamFirstStep() throws {
        let check = GradientCheck(layerSizes: [6, 5, 4, 3], batchSize: 3, seed: 7)
        var energy = check.energy
        energy.parameters = energy.parameters.map { $0.map { var m = $0; m.elements = m.elements.indices.map { Double($0 % 7) * 0.1 - 0.3 }; return m } }
        let gradient = energy.parameters.map { $0.map { m in
            Matrix(rows: m.rows, columns: m.columns, elements: m.elements.indices.map { Double(($0 * 5) % 11) - 5 }) } }
        let before = energy.parameters
        var adam = Adam<Double>(epsilon: 1e-300)
        adam.step(&energy, along: AccumulatedGradient(gradients: gradient, batchSize: 3), learningRates: [0.01, 0.02, 0.03])
        let groups = energy.learningRateGroups
        for i in before.indices {
            for p in before[i].indices {
                for j in before[i][p].elements.indices {
                    let g = gradient[i][p].elements[j]
                    let expected = before[i][p].elements[j] - (g == 0 ? 0 : [0.01, 0.02, 0.03][groups[i]] * (g > 0 ? 1 : -1))
                    #expect(abs(energy.parameters[i][p].elements[j] - expected) < 1e-15)
                }
            }
        }
        #expect(adam.steps == 1)
    }

    @Test("Adam with bias correction: a constant gradient keeps the step at α")
    func adamConstantGradient() {
        var energy = GradientCheck(layerSizes: [3, 2], batchSize: 1, seed: 1).energy
        let gradient = energy.parameters.map { $0.map { Matrix(rows: $0.rows, columns: $0.columns, repeating: 0.5) } }
        var adam = Adam<Double>(epsilon: 0)
        let start = energy.parameters
        for _ in 0..<10 { adam.step(&energy, along: AccumulatedGradient(gradients: gradient, batchSize: 1), learningRates: [0.1]) }
        for (a, b) in zip(start.joined(), energy.parameters.joined()) {
            #expect(zip(a.elements, b.elements).allSatisfy { abs(($0 - $1) - 1.0) < 1e-12 })
        }
    }

    /// family-mlp shrunk to 4-3-2 with `learningRates` and batch 2, and `examples` inputs for it.
    func tinyFamily(learningRates: [Double], examples: Int) -> (LearningSpecification, ClassificationData<Float>) {
        var c = RunFile.presets["family-mlp"]!.specification.learning
        c.architecture = ArchitectureSpecification(layerSizes: [4, 3, 2])
        c.training.learningRates = learningRates
        c.training.batchSize = 2
        let data = ClassificationData<Float>(inputs: Matrix(rows: examples, columns: 4, elements: (0..<4 * examples).map { Float($0 % 5) / 5 }),
                                             labels: (0..<examples).map { $0 % 2 }, classCount: 2)
        return (c, data)
    }

    @Test("Decoupled weight decay shrinks each group's parameters by 1 − α_k·λ after the optimizer's step")
    func weightDecay() throws {
        var (c, data) = tinyFamily(learningRates: [0.01, 0.02], examples: 2)
        c.training.weightDecay = 0.5
        var decayed: Trainer<Float> = try c.makeTrainer(trainingCount: data.count)
        c.training.weightDecay = 0
        var plain: Trainer<Float> = try c.makeTrainer(trainingCount: data.count)
        _ = try decayed.trainEpoch(on: data)
        _ = try plain.trainEpoch(on: data)
        let groups = plain.energy.learningRateGroups
        for (i, (a, b)) in zip(decayed.energy.parameters, plain.energy.parameters).enumerated() {
            for (x, y) in zip(a, b) {
                let factor = Float(1 - c.training.learningRates[groups[i]] * 0.5)
                #expect(zip(x.elements, y.elements).allSatisfy { abs($0 - factor * $1) < 1e-6 })
            }
        }
        c.training.weightDecay = 0.5
        let run = RunFile(specification: RunSpecification(data: DataSpecification(), learning: c))
        #expect(try RunFile(yaml: run.yaml, file: "decay.yaml").specification.learning.training.weightDecay == 0.5)
    }

    @Test("Cosine annealing: full rate in the first epoch, half in the middle, near zero in the last")
    func cosineSchedule() {
        #expect(LearningRateSchedule.cosine.factor(epoch: 1, of: 20) == 1)
        #expect(abs(LearningRateSchedule.cosine.factor(epoch: 11, of: 20) - 0.5) < 1e-12)
        #expect(LearningRateSchedule.cosine.factor(epoch: 20, of: 20) < 0.01)
        #expect(LearningRateSchedule.constant.factor(epoch: 7, of: 20) == 1)
    }

    @Test("The trainer applies the configuration's schedule epoch by epoch, keeping the base rates")
    func trainerFollowsSchedule() throws {
        let (c, data) = tinyFamily(learningRates: [0.2, 0.4], examples: 4)
        var trainer: Trainer<Float> = try c.makeTrainer(trainingCount: data.count)
        #expect(trainer.learningRateFactor == 1)
        for _ in 0..<10 { _ = try trainer.trainEpoch(on: data) }
        #expect(trainer.epochsTrained == 10)
        #expect(abs(trainer.learningRateFactor - LearningRateSchedule.cosine.factor(epoch: 11, of: 20)) < 1e-15)
        #expect(abs(trainer.learningRateFactor - 0.5) < 1e-12)
        #expect(trainer.learningRates == [0.2, 0.4])
    }

    @Test("The family presets validate and train on the predictive-coding energy with Adam, a short inference and weight decay")
    func familyPresets() throws {
        for (name, layers, decay) in [("family-mlp", [784, 256, 256, 10], 0.5), ("family-mlp-fashion", [784, 512, 512, 10], 0.1)] {
            let run = RunFile.presets[name]!.specification
            let c = run.learning
            try c.validate()
            #expect(c.energy.kind == .pc && c.training.optimizer == .adam && c.training.schedule == .cosine && c.architecture.layerSizes == layers)
            #expect(c.dynamics.stableSteps && c.dynamics.nudgedSteps == 5 && c.dynamics.stepSize == 0.01 && c.training.weightDecay == decay)
            #expect(run.data.pixels == .unit)
            let trainer: Trainer<Float> = try c.makeTrainer(trainingCount: 10)
            #expect(trainer.optimizer is Adam<Float> && trainer.weightDecay == Float(decay))
        }
        #expect(RunFile.presets["family-mlp-fashion"]!.specification.data.dataset == .fashionMNIST)
    }
}

import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing
import TrainingRuns

/// The exact block minimiser (``ExactBlockDescent``) against an independent computation of each
/// layer's minimiser, against gradient descent, and against the EP theorem.
@Suite("The exact block minimizer")
struct ExactBlockDescentTests {
    /// The Hopfield energy on `layerSizes` with Glorot weights times `scale` and biases uniform in
    /// `[−0.5, 0.5]`, and a batch of inputs in `[0, 1]` with one-hot targets.
    func network(_ layerSizes: [Int], weightScale scale: Double, seed: UInt64)
        -> (energy: LayeredEnergy<Double>, input: Matrix<Double>, target: Matrix<Double>) {
        var generator = SeededGenerator(seed: seed)
        var energy = LayeredEnergy<Double>.hopfield(layerSizes: layerSizes, using: &generator)
        for t in energy.terms.indices {
            energy.terms[t].changeParameters { parameters in
                for p in parameters.indices {
                    if parameters[p].rows == 1 {
                        parameters[p] = .uniform(rows: 1, columns: parameters[p].columns, in: -0.5...0.5, using: &generator)
                    } else {
                        parameters[p].scale(by: scale)
                    }
                }
            }
        }
        let input = Matrix<Double>.uniform(rows: 6, columns: layerSizes[0], in: 0...1, using: &generator)
        var target = Matrix<Double>(rows: 6, columns: layerSizes.last!)
        for row in 0..<6 { target[row, Int.random(in: 0..<layerSizes.last!, using: &generator)] = 1 }
        return (energy, input, target)
    }

    func weight(_ energy: LayeredEnergy<Double>, _ lower: Int) -> Matrix<Double> {
        energy.terms.compactMap { $0 as? DenseInteraction<Double> }.first { $0.lower == lower }!.weight
    }

    func bias(_ energy: LayeredEnergy<Double>, _ layer: Int) -> Matrix<Double> {
        energy.terms.compactMap { $0 as? Bias<Double> }.first { $0.layer == layer }!.bias
    }

    /// `clip(m, 0, 1)` element by element.
    func clipped(_ m: Matrix<Double>) -> Matrix<Double> {
        var c = m
        for i in 0..<c.count { c.elements[i] = min(max(c.elements[i], 0), 1) }
        return c
    }

    @Test("One sweep sets the odd layers, then the even ones, to clip(drive), and the nudged output to clip((drive + βd)/(1 + β))")
    func oneSweepIsTheClosedForm() throws {
        let (energy, input, target) = network([7, 6, 5, 4], weightScale: 2, seed: 4)
        let (w0, w1, w2) = (weight(energy, 0), weight(energy, 1), weight(energy, 2))
        let (b1, b2, b3) = (bias(energy, 1), bias(energy, 2), bias(energy, 3))
        var generator = SeededGenerator(seed: 0)
        var start = NetworkState(input: input, layerSizes: energy.layerSizes)
        start.layers[2] = .uniform(rows: 6, columns: 5, in: 0...1, using: &generator)
        for beta in [0.0, 0.7] {
            var state = start
            var clamped = ClampedEnergy(energy, clamping: [0], at: state)
            if beta != 0 { clamped = clamped.adding(CostTerm(cost: SquaredError(), target: target, beta: beta, layer: 3)) }
            #expect(clamped.independentLayerGroups() == [[1, 3], [2]])
            try ExactBlockDescent<Double>(steps: 1).relax(&state, under: clamped, using: &generator)
            func plusBias(_ m: Matrix<Double>, _ b: Matrix<Double>) -> Matrix<Double> {
                var r = m
                r.addToEveryRow(b, scaledBy: 1)
                return r
            }
            // Layers 1 and 3 from the start's layer 2, then layer 2 from the new layers 1 and 3.
            let s1 = clipped(plusBias(Matrix.product(input, w0) + Matrix.product(start.layers[2], w1, transposeB: true), b1))
            var drive3 = plusBias(Matrix.product(start.layers[2], w2), b3)
            drive3.add(target, scaledBy: beta)
            drive3.scale(by: 1 / (1 + beta))
            let s3 = clipped(drive3)
            let s2 = clipped(plusBias(Matrix.product(s1, w1) + Matrix.product(s3, w2, transposeB: true), b2))
            #expect(maxAbsDifference(state.layers[1], s1) < 1e-14 && maxAbsDifference(state.layers[3], s3) < 1e-14
                && maxAbsDifference(state.layers[2], s2) < 1e-14, "β = \(beta)")
        }
    }

    @Test("Where the energy is strictly convex, it reaches gradient descent's fixed point (to 1e-6 in Double), in fewer sweeps than steps")
    func sameFixedPointAsGradientDescent() throws {
        for seed: UInt64 in 1...3 {
            let (energy, input, _) = network([10, 8, 8, 6, 4], weightScale: 0.4, seed: seed)
            let start = NetworkState(input: input, layerSizes: energy.layerSizes)
            let clamped = ClampedEnergy(energy, clamping: [0], at: start)
            // Strictly convex: the Hessian on the free layers is positive definite.
            let lowest = Lanczos.extremeEigenvalues(dimension: 26) { v in
                var direction = NetworkState(zerosLike: start), product = NetworkState(zerosLike: start)
                var offset = 0
                for k in 1...4 {
                    for i in 0..<direction.layers[k].columns { direction.layers[k].elements[i] = v[offset + i] }
                    offset += direction.layers[k].columns
                }
                clamped.hessianProduct(at: start, direction: direction, into: &product)
                return (1...4).flatMap { Array(product.layers[$0].elements[0..<product.layers[$0].columns]) }
            }!.smallest
            #expect(lowest > 0.1, "the smallest curvature is \(lowest)")
            var generator = SeededGenerator(seed: 0)
            var descended = start, swept = start
            let steps = try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 1_000_000, tolerance: 1e-15).relax(&descended, under: clamped, using: &generator)
            let sweeps = try ExactBlockDescent<Double>(steps: 1_000_000, tolerance: 1e-15).relax(&swept, under: clamped, using: &generator)
            for k in 1...4 { #expect(maxAbsDifference(descended.layers[k], swept.layers[k]) < 1e-6, "seed \(seed), layer \(k)") }
            #expect(sweeps.steps < steps.steps, "\(sweeps.steps) sweeps, \(steps.steps) steps")
        }
    }

    /// `F` after each sweep of `dynamics`, from zero, under `clamped`.
    func energies(_ dynamics: ExactBlockDescent<Double>, _ clamped: ClampedEnergy<Double>, from start: NetworkState<Double>, sweeps: Int) throws -> [Double] {
        var state = start
        var generator = SeededGenerator(seed: 0)
        let step = dynamics.singleSteps(under: clamped)
        var values = [clamped.value(at: state)]
        for _ in 0..<sweeps {
            try step.relax(&state, under: clamped, using: &generator)
            values.append(clamped.value(at: state))
        }
        return values
    }

    @Test("No half-sweep raises the energy, with over-relaxation ω < 2 and with a nudge that makes the output concave",
          arguments: [1.0, 1.5, 1.9])
    func energyNeverRises(omega: Double) throws {
        let (energy, input, target) = network([10, 8, 8, 6, 4], weightScale: 3, seed: 7)
        var start = NetworkState(input: input, layerSizes: energy.layerSizes)
        var generator = SeededGenerator(seed: 1)
        for k in 1...4 { start.layers[k] = .uniform(rows: 6, columns: energy.layerSizes[k], in: 0...1, using: &generator) }
        let dynamics = ExactBlockDescent<Double>(steps: 1, overrelaxation: omega)
        for beta in [0.0, 0.5, -1.5] {
            let free = ClampedEnergy(energy, clamping: [0], at: start)
            let nudged = beta == 0 ? free : free.adding(CostTerm(cost: SquaredError(), target: target, beta: beta, layer: 4))
            // Clamping the even layers leaves one group, the odd ones: each sweep is one half-sweep.
            for clamped in [nudged, nudged.clamping([2], at: start)] {
                let values = try energies(dynamics, clamped, from: start, sweeps: 40)
                for (before, after) in zip(values, values.dropFirst()) {
                    #expect(after <= before + 1e-12 * abs(before), "ω \(omega), β \(beta): \(before) → \(after)")
                }
            }
        }
    }

    @Test("EP relaxed by it matches the exact gradient: cosine ≥ 0.999 at β = 10⁻³, errors of order β (one-sided) and β² (centered)")
    func equilibriumPropagation() throws {
        var check = GradientCheck(layerSizes: [12, 10, 8, 4], batchSize: 5, seed: 1)
        check.dynamics = ExactBlockDescent(steps: 200_000, tolerance: 1e-14)
        for nudging in [Nudging.positive, .negative, .centered] {
            let report = try check.report(EquilibriumPropagation(beta: 1e-3, nudging: nudging, dynamics: check.dynamics))
            let comparison = try #require(report.comparison, "\(report.hypotheses.status)")
            #expect(comparison.cosine >= 0.999, "\(nudging): \(comparison.cosine)")
            let order = try fittedOrder(nudges: [0.02, 0.01, 0.005, 0.0025]) { try check.run(beta: $0, nudging: nudging).relativeError }
            #expect(abs(order - (nudging == .centered ? 2 : 1)) < 0.2, "\(nudging): fitted order \(order)")
        }
    }

    @Test("A relaxation survey counts each example's own steps; a batch takes its slowest example's")
    func relaxationSurvey() throws {
        let (energy, input, _) = network([10, 8, 6, 4], weightScale: 1.5, seed: 5)
        let dynamics = ExactBlockDescent<Double>(steps: 10_000, tolerance: 1e-8)
        let survey = try RelaxationSurvey(energy: energy, input: input, dynamics: dynamics)
        var generator = SeededGenerator(seed: 0)
        for row in 0..<input.rows {
            var alone = NetworkState(input: input.rows(row..<(row + 1)), layerSizes: energy.layerSizes)
            let relaxation = try dynamics.relax(&alone, under: ClampedEnergy(energy, clamping: [0], at: alone), using: &generator)
            #expect(relaxation.steps == survey.steps[row])
            for k in 1...3 { #expect(maxAbsDifference(alone.layers[k], survey.fixedPoints.layers[k].rows(row..<(row + 1))) == 0) }
        }
        var batch = NetworkState(input: input, layerSizes: energy.layerSizes)
        let together = try dynamics.relax(&batch, under: ClampedEnergy(energy, clamping: [0], at: batch), using: &generator)
        #expect(Double(together.steps) == survey.meanBatchSteps(batchSize: input.rows) && together.steps == survey.steps.max())
        // Each example stopped once it had settled, so the batch's fixed points are each example's alone.
        #expect(survey.steps.min()! < together.steps)
        for k in 1...3 { #expect(maxAbsDifference(batch.layers[k], survey.fixedPoints.layers[k]) < 1e-12) }
        #expect(survey.meanBatchSteps(batchSize: 1) == Double(survey.steps.reduce(0, +)) / Double(survey.steps.count))
        #expect(survey.stepQuantile(1) == survey.steps.max() && survey.stepQuantile(0) == survey.steps.min())
        #expect(survey.unsettledExamples == 0 && survey.fractionDiffering(from: survey, by: 0) == 0)
        let capped = try RelaxationSurvey(energy: energy, input: input, dynamics: ExactBlockDescent<Double>(steps: 1, tolerance: 1e-8))
        #expect(capped.unsettledExamples == input.rows && capped.fractionDiffering(from: survey, by: 1e-3) > 0)
    }

    @Test("A term that is not quadratic layer by layer is refused by name")
    func notLayerQuadratic() throws {
        let (energy, input, target) = network([6, 5, 4], weightScale: 1, seed: 2)
        var state = NetworkState(input: input, layerSizes: energy.layerSizes)
        let nudged = ClampedEnergy(energy, clamping: [0], at: state).adding(CostTerm(cost: CrossEntropy(), target: target, beta: 0.1, layer: 2))
        var generator = SeededGenerator(seed: 0)
        #expect(throws: NotLayerQuadratic(term: "nudge", layer: 2)) {
            try ExactBlockDescent<Double>(steps: 5).relax(&state, under: nudged, using: &generator)
        }
    }

    @Test("The second phase can relax otherwise than the free phase: exact free phase, the paper's nudged steps of gradient descent")
    func secondPhaseMinimizer() throws {
        var overrides = RunSettings(source: "the command line")
        overrides.set(try #require(RunKey.flagged("minimizer")), fromFlag: "exact-block")
        overrides.set(try #require(RunKey.flagged("nudged-minimizer")), fromFlag: "gradient-descent")
        overrides.set(try #require(RunKey.flagged("overrelaxation")), fromFlag: "1.5")
        // The preset's ε stays: the second phase still takes gradient-descent steps.
        let run = try RunFile(settings: RunFile.presetSettings("scellier2017-net1").overriding(with: overrides))
        let dynamics = run.specification.learning.dynamics
        #expect(dynamics.minimizer == .exactBlock && dynamics.secondPhase == .gradientDescent && dynamics.stepSize == 0.5)
        #expect(dynamics.minimizerSummary == "exact-block ω 1.5, nudged ε 0.5")
        #expect(try RunFile(yaml: run.yaml, file: "run.yaml").specification == run.specification, "run.yaml reads back")
        let trainer: Trainer<Float> = try run.specification.learning.makeTrainer(trainingCount: 0)
        #expect(trainer.freeDynamics is ExactBlockDescent<Float>)
        let second: any Dynamics<Float> = dynamics.makeSecondPhase(layerStepScales: nil, parallelBlocks: 1)
        let steps = try #require(second as? ProjectedGradientDescent<Float>)
        #expect(steps.stepSize == 0.5 && steps.steps == 4)
        // Saved before the setting existed, a specification reads as one minimizer for both phases.
        let saved = try JSONEncoder().encode(dynamics)
        var object = try #require(JSONSerialization.jsonObject(with: saved) as? [String: Any])
        object["secondPhaseMinimizer"] = nil
        let old = try JSONDecoder().decode(DynamicsSpecification.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(old.secondPhase == .exactBlock)

        let mixed = "dynamics:\n  minimizer: exact-block\n  nudged-minimizer: gradient-descent\n"
        let cases: [([(String, String)], String)] = [
            ([("dynamics:\n", mixed), ("  epsilon: 0.5\n", "")], "dynamics.epsilon (not given): missing: gradient descent needs a step size ε"),
            ([("dynamics:\n", "dynamics:\n  minimizer: exact-block\n  nudged-minimizer: exact-block\n")],
             "dynamics.epsilon: expected no step size with the exact-block minimizer"),
            ([("dynamics:\n", "dynamics:\n  nudged-minimizer: exact-block\n"), ("  name: ep\n", "  name: tbp\n"), ("  beta: 1.0\n", ""), ("  nudging: random\n", "")],
             "dynamics.nudged-minimizer: expected gradient-descent for rule tbp"),
            ([("dynamics:\n", "dynamics:\n  nudged-minimizer: exact-block\n"), ("  cost: squared-error\n", "  cost: cross-entropy\n")],
             "training.cost: expected squared-error for rule ep with the exact-block minimizer"),
            ([("dynamics:\n", mixed), ("  noise: 0\n", "  noise: 0.1\n")], ""),
            ([("dynamics:\n", mixed), ("  name: ep\n", "  name: rbp\n"), ("  beta: 1.0\n", ""), ("  nudging: random\n", ""),
              ("  noise: 0\n", "  noise: 0\n  stable-steps: true\n")], ""),
        ]
        for (changes, expected) in cases {
            let message = refusal(changes)
            if expected.isEmpty {
                #expect(message == nil, "Langevin noise, rbp's adjoint and stable steps in a gradient-descent second phase are taken: \(String(describing: message))")
            } else {
                #expect(message?.contains(expected) == true, "\(String(describing: message))")
            }
        }
        // With the exact free phase, the nudge may be the cross-entropy: the gradient-descent phase needs no closed form.
        #expect(refusal([("dynamics:\n", mixed), ("  cost: squared-error\n", "  cost: cross-entropy\n")]) == nil)
    }

    func refusal(_ yamlChanges: [(String, String)]) -> String? {
        var text = try! String(contentsOfFile: presetPath("scellier2017-net1"), encoding: .utf8)
        for (old, new) in yamlChanges { text = text.replacingOccurrences(of: old, with: new) }
        do {
            _ = try RunFile(yaml: text, file: "run.yaml")
            return nil
        } catch {
            return "\(error)"
        }
    }

    func presetPath(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/TrainingRuns/Presets/\(name).yaml").path
    }

    @Test("Run files and flags select it; what it does not take is refused by key or flag")
    func runSettings() throws {
        var overrides = RunSettings(source: "the command line")
        overrides.set(try #require(RunKey.flagged("minimizer")), fromFlag: "exact-block")
        overrides.set(try #require(RunKey.flagged("overrelaxation")), fromFlag: "1.5")
        let run = try RunFile(settings: RunFile.presetSettings("scellier2017-net1").overriding(with: overrides))
        let dynamics = run.specification.learning.dynamics
        #expect(dynamics.minimizer == .exactBlock && dynamics.stepSize == nil && dynamics.overrelaxation == 1.5, "the preset's ε is dropped")
        #expect(try RunFile(yaml: run.yaml, file: "run.yaml").specification == run.specification, "run.yaml reads back")
        let trainer: Trainer<Float> = try run.specification.learning.makeTrainer(trainingCount: 0)
        #expect(trainer.freeDynamics is ExactBlockDescent<Float>)

        let block = "dynamics:\n  minimizer: exact-block\n"
        let cases: [([(String, String)], String)] = [
            ([("dynamics:\n", block)], "dynamics.epsilon: expected no step size with the exact-block minimizer"),
            ([("dynamics:\n", block), ("  epsilon: 0.5\n", ""), ("  noise: 0\n", "  noise: 0.1\n")], "dynamics.noise: expected 0 with the exact-block minimizer"),
            ([("dynamics:\n", block), ("  epsilon: 0.5\n", "  overrelaxation: 2\n")], "dynamics.overrelaxation: expected an over-relaxation factor ω in (0, 2)"),
            ([("  epsilon: 0.5\n", "  epsilon: 0.5\n  overrelaxation: 1.5\n")], "dynamics.overrelaxation: expected no over-relaxation with gradient descent"),
            ([("dynamics:\n", block), ("  epsilon: 0.5\n", ""), ("  name: ep\n", "  name: tbp\n"), ("  beta: 1.0\n", ""), ("  nudging: random\n", "")],
             "dynamics.minimizer: expected gradient-descent for rule tbp"),
            ([("dynamics:\n", block), ("  epsilon: 0.5\n", ""), ("  cost: squared-error\n", "  cost: cross-entropy\n")],
             "training.cost: expected squared-error for rule ep with the exact-block minimizer"),
            ([("dynamics:\n", block), ("  epsilon: 0.5\n", ""), ("  noise: 0\n", "  noise: 0\n  stable-steps: true\n")],
             "dynamics.stable-steps: expected false with the exact-block minimizer in both phases"),
        ]
        for (changes, expected) in cases {
            let message = refusal(changes)
            #expect(message?.contains(expected) == true, "\(String(describing: message))")
            #expect(message?.hasPrefix("run.yaml:") == true, "the file and line are named: \(String(describing: message))")
        }
    }
}

import EnergyBasedLearning
import Foundation
import LinearAlgebra
import Testing

/// The claims of Millidge, Song, Salvatori, Lukasiewicz & Bogacz (2022): PC, PC-Nudge, EP and CHL
/// are energy-based rules whose updates tend to backprop's gradient as the nudge becomes small.
@Suite("The unified family: PC, PC-Nudge, EP on predictive-coding energies")
struct UnifiedFamilyTests {
    static let layerSizes = [8, 7, 6, 4]

    func check(hidden: Activation = .tanh, output: Activation = .identity, precisions: [Double]? = nil) throws -> GradientCheck {
        try GradientCheck.predictiveCoding(layerSizes: Self.layerSizes, hidden: hidden, output: output,
                                           precisions: precisions, batchSize: 5, seed: 2)
    }

    @Test("Backprop equals implicit differentiation at the free equilibrium of a predictive-coding energy",
          arguments: [(Activation.tanh, Activation.identity), (.sigmoid, .sigmoid), (.relu, .identity)])
    func backpropIsImplicitDifferentiation(hidden: Activation, output: Activation) throws {
        let check = try check(hidden: hidden, output: output)
        let comparison = GradientComparison(estimate: try check.exactGradient(), reference: try check.backpropagationGradient(),
                                            names: check.energy.terms.map(\.name))
        #expect(comparison.relativeError < 1e-9, "relative difference \(comparison.relativeError)")
    }

    @Test("On a convolutional predictive-coding network, backprop equals implicit differentiation, and PC-Nudge, PC and centered EP converge to it with the orders of the dense case")
    func convolutional() throws {
        func check(outputPrecision: Double = 1) throws -> GradientCheck {
            try GradientCheck.predictiveCoding(architecture: .convolutional, hidden: .tanh, output: .identity,
                                               precisions: [1, 1, outputPrecision], batchSize: 4, seed: 3)
        }
        let plain = try check()
        let exact = GradientComparison(estimate: try plain.exactGradient(), reference: try plain.backpropagationGradient(),
                                       names: plain.energy.terms.map(\.name))
        #expect(exact.relativeError < 1e-9, "relative difference \(exact.relativeError)")
        #expect(plain.energy.energy(at: plain.initialState) == 0, "the feed-forward pass is the free equilibrium")
        func order(_ nudges: [Double], _ error: (Double) throws -> GradientComparison) throws -> Double {
            #expect(try error(nudges.last!).cosine >= 0.999)
            return try fittedOrder(nudges: nudges) { try error($0).relativeError }
        }
        let nudge = try order([0.004, 0.002, 0.001]) { try plain.compare(PCNudge(lambda: $0, dynamics: plain.dynamics), reference: .backpropagation) }
        let clamped = try order([0.004, 0.002, 0.001]) { precision in
            let check = try check(outputPrecision: precision)
            return try check.compare(OutputClamping.predictiveCoding(outputPrecision: precision, dynamics: check.dynamics), reference: .backpropagation)
        }
        let centered = try order([0.004, 0.002, 0.001]) {
            try plain.compare(EquilibriumPropagation(beta: $0, nudging: .centered, dynamics: plain.dynamics), reference: .backpropagation)
        }
        #expect(abs(nudge - 1) < 0.1 && abs(clamped - 1) < 0.1 && abs(centered - 2) < 0.2, "orders: PC-Nudge \(nudge), PC \(clamped), centered EP \(centered)")
    }

    @Test("The feed-forward pass is the free equilibrium: zero energy, and relaxation does not move it")
    func feedForwardIsEquilibrium() throws {
        let check = try check()
        #expect(check.energy.energy(at: check.initialState) == 0)
        let (_, relaxed) = try check.freeEquilibrium()
        for k in relaxed.layers.indices { #expect(maxAbsDifference(relaxed.layers[k], check.initialState.layers[k]) < 1e-15) }
    }

    @Test("Backprop refuses an energy that is not a feed-forward chain")
    func notFeedForward() {
        let hopfield = GradientCheck(layerSizes: [4, 3, 2], batchSize: 2, seed: 1)
        #expect(throws: FeedForwardChain<Double>.Failure.notFeedForward(layer: 1)) {
            try Backpropagation<Double>().gradient(energy: hopfield.energy, input: hopfield.input, target: hopfield.target)
        }
    }

    @Test("PC-Nudge converges to backprop: cosine ≥ 0.999 at small λ and error O(λ)",
          arguments: [(Activation.tanh, Activation.identity), (.relu, .identity), (.sigmoid, .sigmoid)])
    func pcNudge(hidden: Activation, output: Activation) throws {
        let check = try check(hidden: hidden, output: output)
        func comparison(_ lambda: Double) throws -> GradientComparison {
            try check.compare(PCNudge(lambda: lambda, dynamics: check.dynamics), reference: .backpropagation)
        }
        let smallest = try comparison(1e-3)
        #expect(smallest.cosine >= 0.999, "cosine \(smallest.cosine)")
        #expect(smallest.parts.allSatisfy { $0.cosine >= 0.999 }, "\(smallest.parts)")
        // Small enough that no ReLU unit changes side between the phases (at λ = 0.01 one does).
        let order = try fittedOrder(nudges: [0.004, 0.002, 0.001, 0.0005]) { try comparison($0).relativeError }
        #expect(abs(order - 1) < 0.1, "fitted order \(order)")
    }

    @Test("PC-Nudge converges to backprop whatever the output's precision: its update is divided by λπ_L", arguments: [0.5, 3.0])
    func pcNudgePrecision(outputPrecision: Double) throws {
        let check = try check(precisions: [2, 1, outputPrecision])
        func comparison(_ lambda: Double) throws -> GradientComparison {
            try check.compare(PCNudge(lambda: lambda, dynamics: check.dynamics), reference: .backpropagation)
        }
        let smallest = try comparison(1e-3)
        #expect(smallest.cosine >= 0.999 && smallest.relativeError < 0.01, "π_L = \(outputPrecision): \(smallest)")
        let order = try fittedOrder(nudges: [0.02, 0.01, 0.005, 0.0025]) { try comparison($0).relativeError }
        #expect(abs(order - 1) < 0.1, "fitted order \(order)")
    }

    @Test("PC with the output clamped at the target converges to backprop as the output precision shrinks, error O(π_L)")
    func predictiveCoding() throws {
        func comparison(_ outputPrecision: Double) throws -> GradientComparison {
            let check = try check(precisions: [1, 1, outputPrecision])
            return try check.compare(OutputClamping.predictiveCoding(outputPrecision: outputPrecision, dynamics: check.dynamics),
                                     reference: .backpropagation)
        }
        let smallest = try comparison(1e-3)
        #expect(smallest.cosine >= 0.999, "cosine \(smallest.cosine)")
        let order = try fittedOrder(nudges: [0.02, 0.01, 0.005, 0.0025]) { try comparison($0).relativeError }
        #expect(abs(order - 1) < 0.1, "fitted order \(order)")
        #expect(try comparison(1).cosine < 0.999, "with equal precisions PC is not backprop: the limit is what makes it exact")
    }

    @Test("PC with a short inference gives each layer a multiple of backprop's gradient: 1 − cosine per layer O(ε²) for 5 steps of ε",
          arguments: [Activation.tanh, .relu])
    func shortInference(hidden: Activation) throws {
        // Equal precisions, the output clamped at the target: not backprop once relaxed (see above),
        // but after n steps of ε from the feed-forward pass layer l's error is, to leading order,
        // C(n, L−l)·ε^{L−l}·(−δ_l) with δ_l backprop's: a different multiple per layer, which Adam removes.
        let check = try check(hidden: hidden)
        func parts(_ epsilon: Double) throws -> [GradientComparison.Part] {
            try check.compare(OutputClamping.predictiveCoding(outputPrecision: 1, dynamics: ProjectedGradientDescent(stepSize: epsilon, steps: 5)),
                              reference: .backpropagation).parts
        }
        let smallest = try parts(1e-3)
        #expect(smallest.allSatisfy { $0.cosine >= 0.9999 }, "\(smallest)")
        let steps = [0.02, 0.01, 0.005, 0.0025]
        for (index, part) in smallest.enumerated() {
            let order = try fittedOrder(nudges: steps) { 1 - (try parts($0)[index].cosine) }
            #expect(abs(order - 2) < 0.2, "\(part.name): fitted order \(order)")
        }
        #expect(try parts(0.3).contains { $0.cosine < 0.999 }, "a long inference is not a multiple of backprop")
    }

    @Test("EP on the predictive-coding energy converges to backprop: positive and negative O(β), centered O(β²)",
          arguments: [(Nudging.positive, 1.0), (.negative, 1.0), (.centered, 2.0)])
    func equilibriumPropagation(nudging: Nudging, expectedOrder: Double) throws {
        let check = try check()
        func comparison(_ beta: Double) throws -> GradientComparison {
            try check.compare(EquilibriumPropagation(beta: beta, nudging: nudging, dynamics: check.dynamics), reference: .backpropagation)
        }
        #expect(try comparison(1e-3).cosine >= 0.999)
        let order = try fittedOrder(nudges: [0.02, 0.01, 0.005, 0.0025]) { try comparison($0).relativeError }
        #expect(abs(order - expectedOrder) < 0.1 * expectedOrder, "fitted order \(order)")
    }

    @Test("CHL's update vanishes when the target is the free output, and points downhill otherwise")
    func contrastiveHebbian() throws {
        let hopfield = GradientCheck(layerSizes: [8, 6, 4], batchSize: 3, seed: 4)
        let (clamped, free) = try hopfield.freeEquilibrium()
        var generator = SeededGenerator(seed: 0)
        let rule = OutputClamping<Double>.contrastiveHebbian(dynamics: hopfield.dynamics)
        let atOutput = try rule.estimate(energy: clamped, freeState: free, target: free.output, using: &generator).gradient(of: hopfield.energy)
        #expect(atOutput.allSatisfy { $0.allSatisfy { $0.elements.allSatisfy { abs($0) < 1e-12 } } })
        let comparison = try hopfield.compare(rule)
        #expect(comparison.cosine > 0, "CHL's update is a descent direction here: cosine \(comparison.cosine)")
    }
}

@Suite("The alignment sweep")
struct AlignmentSweepTests {
    static func sweep(rule: RuleSpecification = .pcNudge(lambda: 1), nudges: [Double] = [0.001, 0.1, 1], steps: [Int] = [300]) -> AlignmentSweep {
        AlignmentSweep(rule: rule, architecture: ArchitectureSpecification(layerSizes: [10, 8, 6, 3]), hidden: .relu, output: .identity, nudges: nudges, steps: steps,
                       inferenceRate: 0.1, seeds: [1, 2])
    }

    @Test("Alignment with backprop improves as the nudge shrinks, for every rule",
          arguments: [RuleSpecification.pcNudge(lambda: 1), .pc(outputPrecision: 1), .ep(beta: 1, nudging: .positive), .ep(beta: 1, nudging: .negative),
                      .ep(beta: 1, nudging: .centered), .chl(feedbackGain: 1)])
    func improvesAsNudgeShrinks(rule: RuleSpecification) throws {
        let problem = try GradientCheck.predictiveCoding(layerSizes: [10, 8, 6, 3], hidden: .relu, output: .identity, batchSize: 6, seed: 9)
        let rows = try Self.sweep(rule: rule).run(input: problem.input, target: problem.target)
        #expect(rows.count == 6)
        for seed in [UInt64(1), 2] {
            let errors = rows.filter { $0.seed == seed }.sorted { $0.nudge < $1.nudge }.map(\.comparison.relativeError)
            #expect(errors == errors.sorted(), "seed \(seed): relative errors \(errors) should grow with the nudge")
            let smallest = try #require(rows.first { $0.seed == seed && $0.nudge == 0.001 })
            #expect(smallest.comparison.cosine > 0.999, "seed \(seed): \(smallest.comparison.cosine)")
        }
    }

    static let impossible: [(AlignmentSweep, String)] = [
        (sweep(nudges: [0.1, 0]), "nudges"),
        (sweep(rule: .pc(outputPrecision: 1), nudges: [-0.5]), "nudges"),
        (sweep(rule: .bp), "rule"),
        (sweep(rule: .stdp(beta: 1, nudging: .positive, form: .symmetric)), "rule"),
        (sweep(nudges: [.nan]), "nudges"),
        (sweep(steps: [0]), "steps"),
        (sweep(nudges: []), "nudges"),
    ]

    @Test("Impossible sweeps are refused with the flag that names them", arguments: impossible)
    func badSettings(sweep: AlignmentSweep, flag: String) {
        #expect(throws: AlignmentSweep.InvalidSetting.self) { try sweep.validate() }
        do { try sweep.validate() } catch let error as AlignmentSweep.InvalidSetting {
            #expect(error.flag == flag)
        } catch { Issue.record("\(error)") }
    }
}

@Suite("Contrastive Hebbian learning with weak feedback")
struct WeakFeedbackTests {
    let layerSizes = [8, 7, 6, 4]

    func comparison(_ gamma: Double) throws -> GradientComparison {
        let check = GradientCheck.weakFeedback(layerSizes: layerSizes, feedbackGain: gamma, batchSize: 5, seed: 3)
        let rule = OutputClamping<Double>.weakFeedbackContrastiveHebbian(feedbackGain: gamma, outputLayer: layerSizes.count - 1,
                                                                         dynamics: check.dynamics)
        return try check.compare(rule, reference: .backpropagation)
    }

    @Test("The weak-feedback energy's free equilibrium tends to the feed-forward pass as γ → 0")
    func equilibriumIsFeedForward() throws {
        let check = GradientCheck.weakFeedback(layerSizes: layerSizes, feedbackGain: 1e-4, batchSize: 5, seed: 3)
        let (_, free) = try check.freeEquilibrium()
        let forward = try Backpropagation.feedForward(try FeedForwardChain.limit(of: check.energy).energy, input: check.input)
        for k in free.layers.indices { #expect(maxAbsDifference(free.layers[k], forward.layers[k]) < 1e-3) }
    }

    @Test("Weak-feedback CHL converges to backprop: cosine ≥ 0.999 at small γ and error O(γ)")
    func convergesToBackprop() throws {
        let smallest = try comparison(1e-3)
        #expect(smallest.cosine >= 0.999, "cosine \(smallest.cosine)")
        let order = try fittedOrder(nudges: [0.02, 0.01, 0.005, 0.0025]) { try comparison($0).relativeError }
        #expect(abs(order - 1) < 0.15, "fitted order \(order)")
        #expect(try comparison(1).cosine < 0.99, "with full feedback CHL is not backprop")
    }
}

@Suite("Cross-entropy output cost")
struct CrossEntropyTests {
    @Test("∂C/∂y = softmax(y) − d equals the finite difference of the cross-entropy")
    func gradient() {
        var generator = SeededGenerator(seed: 5)
        let output = Matrix<Double>.uniform(rows: 3, columns: 4, in: -2...2, using: &generator)
        var target = Matrix<Double>(rows: 3, columns: 4)
        for row in 0..<3 { target[row, row] = 1 }
        let cost = CrossEntropy<Double>()
        var gradient = Matrix<Double>(rows: 3, columns: 4)
        cost.accumulateGradient(output: output, target: target, scale: 1, into: &gradient)
        let h = 1e-5
        for i in 0..<output.count {
            var plus = output, minus = output
            plus.elements[i] += h
            minus.elements[i] -= h
            let numeric = (cost.cost(output: plus, target: target) - cost.cost(output: minus, target: target)) / (2 * h)
            #expect(abs(numeric - gradient.elements[i]) < 1e-8)
        }
        #expect(cost.cost(output: Matrix(rows: 1, columns: 2, elements: [1000, 0]), target: Matrix(rows: 1, columns: 2, elements: [1, 0])) < 1e-12,
                "the softmax is computed stably")
    }

    @Test("PC-Nudge and symmetric EP with the cross-entropy converge to backprop of the cross-entropy")
    func rulesConverge() throws {
        var check = try GradientCheck.predictiveCoding(layerSizes: [8, 7, 6, 4], hidden: .tanh, output: .identity, batchSize: 5, seed: 2)
        check.cost = CrossEntropy()
        let rules: [(String, any LearningRule<Double>)] = [
            ("pc-nudge", PCNudge(lambda: 1e-3, cost: CrossEntropy(), dynamics: check.dynamics)),
            ("ep centered", EquilibriumPropagation(beta: 1e-3, nudging: .centered, cost: CrossEntropy(), dynamics: check.dynamics)),
        ]
        for (name, rule) in rules {
            let comparison = try check.compare(rule, reference: .backpropagation)
            #expect(comparison.cosine >= 0.999, "\(name): cosine \(comparison.cosine)")
            #expect(comparison.relativeError < 0.01, "\(name): relative error \(comparison.relativeError)")
        }
        let squared = try check.compare(PCNudge(lambda: 1e-3, dynamics: check.dynamics), reference: .backpropagation)
        #expect(squared.cosine < 0.99, "the squared-error update does not follow the cross-entropy's gradient")
    }
}

/// The rule of the DocC article "Writing your own energy or rule", written outside the library.
struct ArticleRule: LearningRule {
    var nudge: Double
    var dynamics: any Dynamics<Double>

    func estimate<G: RandomNumberGenerator>(
        energy: ClampedEnergy<Double>, freeState: NetworkState<Double>, target: Matrix<Double>,
        using generator: inout G
    ) throws -> Contrast<Double> {
        var state = freeState
        let output = state.layers.count - 1
        try dynamics.relax(&state, under: energy.adding(CostTerm(cost: SquaredError(), target: target, beta: nudge, layer: output)),
                           using: &generator)
        return Contrast(positive: state, negative: freeState, scale: 1 / nudge)
    }
}

@Suite("Extending the library")
struct ExtensionTests {
    @Test("A rule written outside the library plugs into GradientCheck and matches the library's EP")
    func articleRule() throws {
        let check = GradientCheck(layerSizes: [12, 10, 8, 4], batchSize: 5, seed: 1)
        let mine = try check.compare(ArticleRule(nudge: 0.01, dynamics: check.dynamics))
        let library = try check.run(beta: 0.01, nudging: .positive)
        #expect(mine == library)
        #expect(mine.cosine > 0.9999)
    }
}

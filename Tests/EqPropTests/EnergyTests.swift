import EnergyBasedLearning
import LinearAlgebra
import Testing

/// Every derivative a term provides is checked against central finite differences of the energy,
/// for the Hopfield energy (quadratic in the state, so the differences are exact up to rounding)
/// and predictive-coding energies with smooth and piecewise-linear activations (differences
/// accurate to O(h²)).
@Suite("Energy terms: derivatives against finite differences")
struct EnergyTests {
    let h = 1e-4
    let tolerance = 1e-7

    func perturbed(_ state: NetworkState<Double>, layer: Int, index: Int, by delta: Double) -> NetworkState<Double> {
        var copy = state
        copy.layers[layer].elements[index] += delta
        return copy
    }

    @Test("∂E/∂s (with the clamped input's drive precomputed) equals the finite difference of E", arguments: SmallProblem.energies)
    func stateGradient(problem: SmallProblem) {
        let state = problem.interiorState()
        let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
        var gradient = NetworkState(zerosLike: state)
        clamped.stateGradient(at: state, into: &gradient)
        for k in 1..<state.layers.count {
            for i in 0..<state.layers[k].count {
                let numeric = (problem.energy.energy(at: perturbed(state, layer: k, index: i, by: h))
                    - problem.energy.energy(at: perturbed(state, layer: k, index: i, by: -h))) / (2 * h)
                #expect(abs(numeric - gradient.layers[k].elements[i]) < tolerance, "layer \(k) unit \(i)")
            }
        }
    }

    @Test("The Hessian-vector product equals the finite difference of the gradient", arguments: SmallProblem.energies)
    func hessianProduct(problem: SmallProblem) {
        let state = problem.interiorState()
        let direction = problem.interiorState(seed: 9)
        let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
        var product = NetworkState(zerosLike: state)
        clamped.hessianProduct(at: state, direction: direction, into: &product)
        var plus = state, minus = state
        for k in 1..<state.layers.count {
            plus.layers[k].add(direction.layers[k], scaledBy: h)
            minus.layers[k].add(direction.layers[k], scaledBy: -h)
        }
        var gradientPlus = NetworkState(zerosLike: state), gradientMinus = NetworkState(zerosLike: state)
        clamped.stateGradient(at: plus, into: &gradientPlus)
        clamped.stateGradient(at: minus, into: &gradientMinus)
        for k in 1..<state.layers.count {
            var numeric = gradientPlus.layers[k] - gradientMinus.layers[k]
            numeric.scale(by: 1 / (2 * h))
            #expect(maxAbsDifference(numeric, product.layers[k]) < tolerance)
        }
    }

    @Test("The pooled problem's finite differences cross no kink: every window's two largest entries are 10⁻³ apart or more")
    func pooledProblemAwayFromKinks() throws {
        let problem = SmallProblem.pooled, state = problem.interiorState()
        var smallestGap = Double.infinity
        for case let term as ConvolutionInteraction<Double> in problem.energy.terms {
            let pooling = try #require(term.pooling)
            var convolved = Matrix<Double>(rows: state.batchSize, columns: term.geometry.outputUnits)
            convolved.addConvolution(of: state.layers[term.lower], by: term.weight, geometry: term.geometry)
            for example in 0..<state.batchSize {
                for window in pooling.windows {
                    let entries = window.map { convolved[example, $0] }.sorted(by: >)
                    smallestGap = min(smallestGap, entries[0] - entries[1])
                }
            }
        }
        #expect(smallestGap > 1e-3, "smallest gap \(smallestGap)")
    }

    @Test("∂E/∂θ equals the finite difference of E in every parameter", arguments: SmallProblem.energies)
    func parameterGradient(problem: SmallProblem) {
        let state = problem.interiorState()
        let analytic = problem.energy.parameterGradients(at: state)
        for (t, parameters) in problem.energy.parameters.enumerated() {
            for (p, parameter) in parameters.enumerated() {
                for i in 0..<parameter.count {
                    let numeric = centralDifference(of: { $0.energy(at: state) }, energy: problem.energy,
                                                    term: t, parameter: p, index: i, step: h)
                    #expect(abs(numeric - analytic[t][p].elements[i]) < tolerance, "\(problem.energy.terms[t].name)[\(i)]")
                }
            }
        }
    }

    @Test("The mixed derivative (∂²E/∂θ∂s)·v equals the finite difference of ∂E/∂θ along v", arguments: SmallProblem.energies)
    func mixedDerivative(problem: SmallProblem) {
        let state = problem.interiorState()
        var direction = problem.interiorState(seed: 11)
        direction.layers[0].scale(by: 0)
        var plus = state, minus = state
        for k in 1..<state.layers.count {
            plus.layers[k].add(direction.layers[k], scaledBy: h)
            minus.layers[k].add(direction.layers[k], scaledBy: -h)
        }
        for term in problem.energy.terms {
            let analytic = term.parameterGradientDerivatives(at: state, along: direction)
            for (p, (up, down)) in zip(term.parameterGradients(at: plus), term.parameterGradients(at: minus)).enumerated() {
                var numeric = up - down
                numeric.scale(by: 1 / (2 * h))
                #expect(maxAbsDifference(numeric, analytic[p]) < tolerance, "\(term.name)")
            }
        }
    }

    @Test("The contrast ∂E/∂θ(a) − ∂E/∂θ(b) and the fused in-place step agree with the two gradients, with the input shared or not",
          arguments: SmallProblem.energies)
    func fusedContrast(problem: SmallProblem) {
        let a = problem.interiorState(seed: 1)
        var otherInput = problem.interiorState(seed: 5)
        otherInput.layers[0].elements = otherInput.layers[0].elements.map { $0 * 0.7 + 0.1 }
        // interiorState keeps the problem's input: seed 2 shares a's (the contrast's shortcut), otherInput does not.
        for variant in [problem.interiorState(seed: 2), otherInput] {
            for term in problem.energy.terms {
                let expected = zip(term.parameterGradients(at: a), term.parameterGradients(at: variant)).map { $0 - $1 }
                let difference = term.parameterGradientDifference(between: a, and: variant)
                var fused = term
                fused.descendContrast(between: a, and: variant, stepSize: 0.3)
                for (p, parameter) in term.parameters.enumerated() {
                    #expect(maxAbsDifference(expected[p], difference[p]) < 1e-12, "\(term.name)")
                    var stepped = parameter
                    stepped.add(expected[p], scaledBy: -0.3)
                    #expect(maxAbsDifference(stepped, fused.parameters[p]) < 1e-12, "\(term.name)")
                }
            }
        }
    }

    @Test("A weight of few columns, kept transposed for the relaxation, gives the same products both ways, also after new parameters")
    func transposedWeight() {
        var generator = SeededGenerator(seed: 12)
        for (rows, columns) in [(30, 10), (12, 40)] {
            let term = DenseInteraction(lower: 1, upper: 2, weight: Matrix<Double>.uniform(rows: rows, columns: columns, in: -1...1, using: &generator))
            #expect(Matrix.prefersTransposedOperand(term.weight) == (columns <= 16))
            var state = NetworkState(input: Matrix<Double>.uniform(rows: 4, columns: 3, in: 0...1, using: &generator), layerSizes: [3, rows, columns])
            state.layers[1] = Matrix.uniform(rows: 4, columns: rows, in: 0...1, using: &generator)
            state.layers[2] = Matrix.uniform(rows: 4, columns: columns, in: 0...1, using: &generator)
            var specialized = term.specialized(clamping: [0], at: state)
            for layer in [1, 2] {
                var expected = Matrix<Double>(rows: 4, columns: state.layers[layer].columns)
                expected.multiplyAdd(layer == 1 ? state.layers[2] : state.layers[1], term.weight, transposeB: layer == 1, alpha: -1)
                var plain = Matrix<Double>(rows: 4, columns: expected.columns), kept = plain
                term.accumulateStateGradient(ofLayer: layer, at: state, into: &plain)
                specialized.accumulateStateGradient(ofLayer: layer, at: state, into: &kept)
                #expect(maxAbsDifference(plain, expected) < 1e-12 && maxAbsDifference(kept, expected) < 1e-12)
            }
            let newWeight = Matrix<Double>.uniform(rows: rows, columns: columns, in: -1...1, using: &generator)
            specialized.parameters = [newWeight]
            var expected = Matrix<Double>(rows: 4, columns: rows), kept = expected
            expected.multiplyAdd(state.layers[2], newWeight, transposeB: true, alpha: -1)
            specialized.accumulateStateGradient(ofLayer: 1, at: state, into: &kept)
            #expect(maxAbsDifference(kept, expected) < 1e-12, "new parameters replace the transposed copy")
            var changedInPlace = specialized as! DenseInteraction<Double>
            changedInPlace.weight.scale(by: 2)
            var doubled = Matrix<Double>(rows: 4, columns: rows)
            changedInPlace.accumulateStateGradient(ofLayer: 1, at: state, into: &doubled)
            expected.scale(by: 2)
            #expect(maxAbsDifference(doubled, expected) < 1e-12, "so does a change of the weight in place")
        }
    }

    @Test("With a mostly zero input (an image's background) the input's drive and the fused step visit only its nonzeros, and agree with GEMM")
    func sparseInput() {
        var generator = SeededGenerator(seed: 11)
        var input = Matrix<Double>.uniform(rows: 6, columns: 100, in: 0...1, using: &generator)
        for i in input.elements.indices where Double.random(in: 0..<1, using: &generator) > 0.1 { input.elements[i] = 0 }
        #expect(Matrix.sparseFactor(input, rowLength: 80) != nil)
        let term = DenseInteraction(lower: 0, upper: 1, weight: Matrix<Double>.uniform(rows: 100, columns: 80, in: -1...1, using: &generator))
        let energy = LayeredEnergy(layerSizes: [100, 80], terms: [term, QuadraticLeak(layer: 1)], stateBounds: [nil, 0...1])
        var a = NetworkState(input: input, layerSizes: [100, 80])
        a.layers[1] = Matrix.uniform(rows: 6, columns: 80, in: 0...1, using: &generator)
        var b = a
        b.layers[1] = Matrix.uniform(rows: 6, columns: 80, in: 0...1, using: &generator)

        var gradient = a
        ClampedEnergy(energy, clamping: [0], at: a).stateGradient(at: a, into: &gradient)
        var expected = a.layers[1]
        expected.multiplyAdd(input, term.weight, alpha: -1)
        #expect(maxAbsDifference(gradient.layers[1], expected) < 1e-12)

        var fused = term
        fused.descendContrast(between: a, and: b, stepSize: 0.3)
        var stepped = term.weight
        stepped.add(term.parameterGradients(at: a)[0] - term.parameterGradients(at: b)[0], scaledBy: -0.3)
        #expect(maxAbsDifference(stepped, fused.weight) < 1e-12)
    }
}

@Suite("Dynamics")
struct DynamicsTests {
    @Test("Projected gradient descent lowers the energy at every step and reaches a fixed point in the box")
    func relaxation() throws {
        var generator = SeededGenerator(seed: 0)
        let problem = SmallProblem(weightScale: 2)
        var state = NetworkState(input: problem.input, layerSizes: problem.energy.layerSizes)
        let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
        let oneStep = ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 1)
        var energy = problem.energy.energy(at: state)
        for _ in 0..<200 {
            try oneStep.relax(&state, under: clamped, using: &generator)
            let next = problem.energy.energy(at: state)
            #expect(next <= energy + 1e-12)
            energy = next
        }
        let report = try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 100_000, tolerance: 1e-14)
            .relax(&state, under: clamped, using: &generator)
        #expect(report.lastChange <= 1e-14)
        for k in 1..<state.layers.count { #expect(state.layers[k].elements.allSatisfy { (0...1).contains($0) }) }
        #expect(state.layers[0] == problem.input, "the input stays clamped")
    }

    @Test("Relaxing blocks of examples in parallel gives the same states as one block, with and without a nudge",
          arguments: [SmallProblem(batchSize: 7), .predictiveCoding(hidden: .tanh, output: .identity)])
    func parallelBlocks(problem: SmallProblem) throws {
        var generator = SeededGenerator(seed: 0)
        let start = problem.interiorState()
        let clamped = ClampedEnergy(problem.energy, clamping: [0], at: start)
        let output = start.layers.count - 1
        for energy in [clamped, clamped.adding(CostTerm(cost: SquaredError(), target: problem.target, beta: 0.3, layer: output))] {
            var serial = start, parallel = start
            try ProjectedGradientDescent<Double>(stepSize: 0.1, steps: 50).relax(&serial, under: energy, using: &generator)
            try ProjectedGradientDescent<Double>(stepSize: 0.1, steps: 50, parallelBlocks: 3).relax(&parallel, under: energy, using: &generator)
            for k in serial.layers.indices { #expect(maxAbsDifference(serial.layers[k], parallel.layers[k]) < 1e-12) }
        }
    }

    @Test("Relaxing to a tolerance stops once no unit moves by more than it, and counts the examples that have not settled")
    func tolerance() throws {
        let problem = SmallProblem(batchSize: 7)
        let start = NetworkState(input: problem.input, layerSizes: problem.energy.layerSizes)
        let clamped = ClampedEnergy(problem.energy, clamping: [0], at: start)
        var generator = SeededGenerator(seed: 0)
        var short = start, settled = start, capped = start
        let few = try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 2).relax(&short, under: clamped, using: &generator)
        #expect(few.steps == 2 && few.unsettledExamples == 7 && few.exampleSteps == 14, "two steps from zero settle nothing: \(few)")
        let converged = try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 10_000, tolerance: 1e-9).relax(&settled, under: clamped, using: &generator)
        #expect(converged.steps < 10_000 && converged.lastChange <= 1e-9 && converged.unsettledExamples == 0, "\(converged)")
        let cap = try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: converged.steps - 1, tolerance: 1e-9).relax(&capped, under: clamped, using: &generator)
        #expect(cap.steps == converged.steps - 1 && cap.unsettledExamples > 0, "stopped by the cap: \(cap)")
        // Fixed steps and a tolerance step alike: the slowest example, which stops last, has the
        // states of as many fixed steps.
        var fixed = start
        try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: converged.steps).relax(&fixed, under: clamped, using: &generator)
        let slowest = try (0..<7).filter { row in
            var alone = start.rows([row])
            let own = try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 10_000, tolerance: 1e-9)
                .relax(&alone, under: ClampedEnergy(problem.energy, clamping: [0], at: alone), using: &generator)
            return own.steps == converged.steps
        }
        #expect(!slowest.isEmpty)
        for row in slowest {
            for k in 1...3 { #expect(maxAbsDifference(fixed.layers[k].gatheringRows([row]), settled.layers[k].gatheringRows([row])) < 1e-12) }
        }
        // The examples stopped at different steps, yet the clamped input was not written back: it
        // still shares its storage with the start, so a contrast finds it the same in O(1).
        #expect(slowest.count < 7)
        #expect(settled.layers[0].elements.withUnsafeBufferPointer(\.baseAddress) == start.layers[0].elements.withUnsafeBufferPointer(\.baseAddress))
    }

    @Test("With a tolerance each example stops once it has settled, as if relaxed alone, with and without a nudge, on one block or three",
          arguments: [SmallProblem(batchSize: 7), .predictiveCoding(hidden: .tanh, output: .identity)], [1, 3])
    func examplesStopWhenSettled(problem: SmallProblem, blocks: Int) throws {
        var generator = SeededGenerator(seed: 0)
        let start = problem.interiorState(), rows = Array(0..<problem.input.rows), output = start.layers.count - 1
        let dynamics = ProjectedGradientDescent<Double>(stepSize: 0.2, steps: 10_000, tolerance: 1e-9, parallelBlocks: blocks)
        for beta in [0.0, 0.3] {
            func phase(_ state: NetworkState<Double>, _ rows: [Int]) -> ClampedEnergy<Double> {
                let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
                return beta == 0 ? clamped : clamped.adding(CostTerm(cost: SquaredError(), target: problem.target.gatheringRows(rows), beta: beta, layer: output))
            }
            var batch = start
            let together = try dynamics.relax(&batch, under: phase(batch, rows), using: &generator)
            var steps: [Int] = []
            for row in rows {
                var alone = start.rows([row])
                steps.append(try dynamics.relax(&alone, under: phase(alone, [row]), using: &generator).steps)
                for k in alone.layers.indices { #expect(maxAbsDifference(alone.layers[k], batch.layers[k].gatheringRows([row])) < 1e-12, "β \(beta), example \(row)") }
            }
            #expect(together.steps == steps.max() && together.unsettledExamples == 0 && together.exampleSteps == steps.reduce(0, +))
            #expect(steps.min()! < together.steps, "some example settles before the slowest, so the batch shrinks: \(steps)")
        }
    }

    @Test("The projection onto the box keeps NaN visible: the hard sigmoid must not hide a divergence")
    func projectionKeepsNaN() {
        var generator = SeededGenerator(seed: 0)
        let problem = SmallProblem()
        var state = problem.interiorState()
        state.layers[2].elements[1] = .nan
        let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
        #expect(throws: RelaxationError.self) {
            try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 1).relax(&state, under: clamped, using: &generator)
        }
    }

    @Test("A non-finite state is reported as divergence, naming the layer")
    func nonFinite() {
        var generator = SeededGenerator(seed: 0)
        var problem = SmallProblem()
        var parameters = problem.energy.parameters
        parameters[0][0].elements[0] = .nan
        problem.energy.parameters = parameters
        var state = NetworkState(input: problem.input, layerSizes: problem.energy.layerSizes)
        let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
        #expect(throws: RelaxationError.self) {
            try ProjectedGradientDescent<Double>(stepSize: 0.5, steps: 10).relax(&state, under: clamped, using: &generator)
        }
    }
}

import EnergyBasedLearning
import LinearAlgebra
import Testing

/// The shortcuts that keep training at the cost of its arithmetic — work shared between phases,
/// updates in place, products counted — must give the numbers of the plain computation.
@Suite("Shared work and counted products")
struct SharedWorkTests {
    @Test("The GEMM census counts every product inside a recording, by shape, and nothing outside")
    func census() {
        // Odd shapes no other test uses: tests run in parallel, and the census counts every thread.
        let a = Matrix<Float>(rows: 13, columns: 17, repeating: 1), b = Matrix<Float>(rows: 17, columns: 19, repeating: 2)
        let ab = GEMMShape(m: 13, n: 19, k: 17, transposeA: false, transposeB: false, scalarSize: 4)
        let bTc = GEMMShape(m: 17, n: 23, k: 19, transposeA: false, transposeB: true, scalarSize: 4)
        _ = Matrix.product(a, b)
        let (product, calls) = GEMMCensus.recording {
            var c = Matrix.product(a, b)
            c.multiplyAdd(a, b)
            return Matrix.product(b, Matrix<Float>(rows: 23, columns: 19), transposeB: true)
        }
        #expect(product.rows == 17 && product.columns == 23)
        #expect(calls[ab] == 2 && calls[bTc] == 1)
        #expect(ab.flops == 2 * 13 * 19 * 17)
        let (_, after) = GEMMCensus.recording { a.columnSums() }
        #expect(after[ab] == nil && after[bTc] == nil)
    }

    @Test("Recordings on two threads take turns; a recording inside a recording on one thread traps")
    func censusSessions() async {
        // A shape no other test uses; each recording must count its own two products and no others.
        let a = Matrix<Float>(rows: 29, columns: 3, repeating: 1), b = Matrix<Float>(rows: 3, columns: 31, repeating: 1)
        let shape = GEMMShape(m: 29, n: 31, k: 3, transposeA: false, transposeB: false, scalarSize: 4)
        let counts = await withTaskGroup(of: Int?.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    GEMMCensus.recording { _ = Matrix.product(a, b); _ = Matrix.product(a, b) }.calls[shape]
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(counts == [2, 2, 2, 2])
        await #expect(processExitsWith: .failure) {
            _ = GEMMCensus.recording { GEMMCensus.recording { 0 } }
        }
    }

    @Test("The census tells a convolution's products (one per batch) from dense ones of the same shape")
    func censusOfConvolutions() {
        // 1×9×9 → 5×7×7, kernel 3, a batch of 3: one 5×9 · 9×147 product; a shape no other test uses.
        let g = ConvolutionGeometry(inputChannels: 1, height: 9, width: 9, outputChannels: 5, kernel: 3, stride: 1, padding: 0)
        let x = Matrix<Float>(rows: 3, columns: g.inputUnits, repeating: 1), weight = Matrix<Float>(rows: 5, columns: 9, repeating: 1)
        let (_, calls) = GEMMCensus.recording {
            var y = Matrix<Float>(rows: 3, columns: g.outputUnits)
            y.addConvolution(of: x, by: weight, geometry: g)
            var dense = Matrix<Float>(rows: 5, columns: 147)
            dense.multiplyAdd(weight, Matrix<Float>(rows: 9, columns: 147))
        }
        let shape = GEMMShape(m: 5, n: 147, k: 9, transposeA: false, transposeB: false, scalarSize: 4, convolution: true)
        var denseShape = shape
        denseShape.convolution = false
        #expect(calls[shape] == 1 && calls[denseShape] == 1)
    }

    @Test("A PC inference step costs four products on a 6-5-4-3 network: a prediction and a feedback for each free-free interaction")
    func inferenceStepCost() throws {
        // A batch of 11, which no other test uses: tests run in parallel, and the census counts every thread.
        let batch = 11
        let problem = SmallProblem(name: "predictive coding", check: try GradientCheck.predictiveCoding(
            layerSizes: [6, 5, 4, 3], hidden: .tanh, output: .identity, precisions: [1, 2, 0.5], batchSize: batch, seed: 7))
        func products(steps: Int) throws -> [GEMMShape: Int] {
            let rule = OutputClamping<Double>.predictiveCoding(outputPrecision: 0.5, dynamics: ProjectedGradientDescent(stepSize: 0.1, steps: steps))
            var state = NetworkState(input: problem.input, layerSizes: problem.energy.layerSizes)
            var generator = SeededGenerator(seed: 1)
            return try GEMMCensus.recording {
                let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
                try FeedForwardPass().relax(&state, under: clamped, using: &generator)
                return try rule.estimate(energy: clamped, freeState: state, target: problem.target, using: &generator).gradient(of: problem.energy)
            }.calls.filter { $0.key.m == batch && $0.key.scalarSize == 8 }  // this test's batch, in Double
        }
        let (few, many) = (try products(steps: 3), try products(steps: 7))
        let perStep: [GEMMShape: Int] = [
            GEMMShape(m: batch, n: 4, k: 5, transposeA: false, transposeB: false, scalarSize: 8): 1,  // x₁W₂
            GEMMShape(m: batch, n: 5, k: 4, transposeA: false, transposeB: true, scalarSize: 8): 1,   // g₂W₂ᵀ
            GEMMShape(m: batch, n: 3, k: 4, transposeA: false, transposeB: false, scalarSize: 8): 1,  // x₂W₃
            GEMMShape(m: batch, n: 4, k: 3, transposeA: false, transposeB: true, scalarSize: 8): 1,   // g₃W₃ᵀ
        ]
        for shape in Set(few.keys).union(many.keys) {
            #expect((many[shape] ?? 0) - (few[shape] ?? 0) == 4 * (perStep[shape] ?? 0), "\(shape)")
        }
        // The input's prediction x₀W₁: once when the input is clamped (the feed-forward pass and the
        // clamped phase reuse it) and once for the contrast, which is evaluated on the plain terms.
        #expect(few[GEMMShape(m: batch, n: 5, k: 6, transposeA: false, transposeB: false, scalarSize: 8)] == 2)
    }

    @Test("A clamped energy clamped further relaxes like one clamped at once", arguments: SmallProblem.energies)
    func clampingFurther(problem: SmallProblem) {
        let state = problem.interiorState()
        let output = state.layers.count - 1
        let stepwise = ClampedEnergy(problem.energy, clamping: [0], at: state).clamping([output], at: state)
        let atOnce = ClampedEnergy(problem.energy, clamping: [0, output], at: state)
        #expect(stepwise.clampedLayers == atOnce.clampedLayers && stepwise.freeLayers == atOnce.freeLayers)
        var g1 = NetworkState(zerosLike: state), g2 = NetworkState(zerosLike: state)
        stepwise.stateGradient(at: problem.interiorState(seed: 4), into: &g1)
        atOnce.stateGradient(at: problem.interiorState(seed: 4), into: &g2)
        for k in atOnce.freeLayers { #expect(maxAbsDifference(g1.layers[k], g2.layers[k]) < 1e-13) }
    }

    @Test("Backprop as a rule, through the clamped input's shared prediction, equals backprop on the plain energy")
    func backpropagationThroughClampedEnergy() throws {
        for hidden in [Activation.tanh, .relu] {
            let problem = SmallProblem.predictiveCoding(hidden: hidden, output: .identity)
            let rule = Backpropagation<Double>()
            var state = NetworkState(input: problem.input, layerSizes: problem.energy.layerSizes)
            let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
            var generator = SeededGenerator(seed: 1)
            try FeedForwardPass().relax(&state, under: clamped, using: &generator)
            #expect(state == (try Backpropagation.feedForward(problem.energy, input: problem.input)))
            let estimate = try rule.estimate(energy: clamped, freeState: state, target: problem.target, using: &generator)
            let reference = try rule.gradient(energy: problem.energy, input: problem.input, target: problem.target)
            for (a, b) in zip(estimate.gradients.joined(), reference.joined()) { #expect(maxAbsDifference(a, b) < 1e-14) }
        }
    }

    @Test("A clamped energy's gradient, written again into the same scratch, is the gradient: the part computed once is copied in, not added")
    func stateGradientIntoScratch() {
        let problem = SmallProblem()
        var state = NetworkState(input: problem.input, layerSizes: problem.energy.layerSizes)
        var generator = SeededGenerator(seed: 3)
        for k in 1..<state.layers.count {
            state.layers[k] = .uniform(rows: state.batchSize, columns: problem.energy.layerSizes[k], in: 0...1, using: &generator)
        }
        let clamped = ClampedEnergy(problem.energy, clamping: [0], at: state)
        var fresh = NetworkState(zerosLike: state)
        clamped.stateGradient(at: state, into: &fresh)
        var reused = NetworkState(zerosLike: state)
        for _ in 0..<3 { clamped.stateGradient(at: state, into: &reused) }
        #expect(reused == fresh)
        // The input's drive `x·W₀` is part of layer 1's gradient: compare with the plain terms' sum.
        var layer1 = Matrix<Double>(rows: state.batchSize, columns: problem.energy.layerSizes[1])
        for term in problem.energy.terms where term.layers.contains(1) {
            term.accumulateStateGradient(ofLayer: 1, at: state, into: &layer1)
        }
        #expect(maxAbsDifference(reused.layers[1], layer1) < 1e-12)
    }

    @Test("Changing a term's parameters in place writes into their storage, copying nothing")
    func parametersChangeInPlace() {
        var energy = SmallProblem.predictiveCoding(hidden: .relu, output: .identity).energy
        func address(_ m: Matrix<Double>) -> UnsafeRawPointer { m.elements.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress!) } }
        let before = energy.terms[1].parameters.map(address)
        let expected = energy.terms[1].parameters.map { m in m.elements.map { $0 + 1 } }
        energy.terms[1].changeParameters { parameters in
            for p in parameters.indices { parameters[p].add(Matrix(rows: parameters[p].rows, columns: parameters[p].columns, repeating: 1)) }
        }
        #expect(energy.terms[1].parameters.map(address) == before)
        #expect(energy.terms[1].parameters.map(\.elements) == expected)
    }
}

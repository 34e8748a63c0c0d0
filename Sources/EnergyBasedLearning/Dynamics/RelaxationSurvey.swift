import LinearAlgebra

/// How a dynamics relaxes a network's free phase, example by example: the steps each example takes
/// to reach the dynamics' tolerance, whether it reached it within the cap, the time, and the fixed
/// point reached, so that minimisers can be compared on the same examples (they may settle in
/// different minima: the energy is not convex once the weights are large).
public struct RelaxationSurvey<Scalar: BLASScalar>: Sendable {
    /// The steps each example took (the cap for one that did not settle).
    public var steps: [Int]
    /// The examples that did not settle within the cap.
    public var unsettledExamples: Int
    /// The seconds all relaxations took.
    public var seconds: Double
    /// The energy at each example's fixed point.
    public var energies: [Double]
    /// The fixed points, one example per row.
    public var fixedPoints: NetworkState<Scalar>

    /// Relaxes each row of `input` alone, from zero, under `energy` with the input clamped.
    public init(energy: LayeredEnergy<Scalar>, input: Matrix<Scalar>, dynamics: any Dynamics<Scalar>) throws {
        var generator = SeededGenerator(seed: 0)
        fixedPoints = NetworkState(input: input, layerSizes: energy.layerSizes)
        (steps, energies, unsettledExamples) = ([], [], 0)
        let watch = Stopwatch()
        for row in 0..<input.rows {
            var state = fixedPoints.rows(row..<(row + 1))
            let clamped = ClampedEnergy(energy, clamping: [0], at: state)
            let relaxation = try dynamics.relax(&state, under: clamped, using: &generator)
            steps.append(relaxation.steps)
            unsettledExamples += relaxation.unsettledExamples
            energies.append(clamped.value(at: state))
            fixedPoints.setRows(startingAt: row, from: state)
        }
        seconds = watch.seconds
    }

    /// The `q`-quantile of the steps (nearest rank).
    public func stepQuantile(_ q: Double) -> Int {
        let sorted = steps.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))]
    }

    /// The mean over consecutive batches of `batchSize` examples of their largest step count: what
    /// a relaxation of whole batches, which stops when its last example settles, takes.
    public func meanBatchSteps(batchSize: Int) -> Double {
        let batches = stride(from: 0, to: steps.count, by: batchSize).map { steps[$0..<min($0 + batchSize, steps.count)].max()! }
        return Double(batches.reduce(0, +)) / Double(batches.count)
    }

    /// The fraction of examples whose fixed point differs from `other`'s by more than `threshold` in
    /// some unit.
    public func fractionDiffering(from other: RelaxationSurvey, by threshold: Double) -> Double {
        precondition(other.steps.count == steps.count, "the same examples")
        var differing = 0
        for row in 0..<steps.count {
            let mine = fixedPoints.rows(row..<(row + 1)), theirs = other.fixedPoints.rows(row..<(row + 1))
            let apart = zip(mine.layers, theirs.layers).contains { a, b in
                zip(a.elements, b.elements).contains { abs(Double($0) - Double($1)) > threshold }
            }
            if apart { differing += 1 }
        }
        return Double(differing) / Double(steps.count)
    }
}

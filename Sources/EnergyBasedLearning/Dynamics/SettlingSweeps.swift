import LinearAlgebra

/// The step loop of a minimizer in which **each example stops as soon as it has settled**: once a
/// step moves none of its units by more than `tolerance`, its state is final, exactly as if it had
/// been relaxed alone, and the following steps run over the examples still moving only (their rows
/// gathered into a smaller batch, the energy ``ClampedEnergy/restricted(to:)`` to them). A batch then
/// costs the sum of its examples' steps rather than its size times its slowest example's steps, and
/// an example's fixed point does not depend on the batch it came in. Without a tolerance every
/// example takes all `steps`.
///
/// `step(&part, energy, &gradient, &rowChanges, measuring)` takes one step of the examples in
/// `part` under `energy` (restricted to them), raising `rowChanges[r]` (zero before each step) to the
/// largest change of a unit of example `r` when `measuring` (at every step with a tolerance, at the
/// last one without); `gradient` is scratch of `part`'s shape. The relaxation returned is the
/// batch's: the steps of its slowest example, their sum over the examples, and each example's
/// change in its last step.
func stepsUntilSettled<Scalar: BLASScalar>(
    _ state: inout NetworkState<Scalar>, under energy: ClampedEnergy<Scalar>, steps: Int, tolerance: Scalar?,
    step: (inout NetworkState<Scalar>, ClampedEnergy<Scalar>, inout NetworkState<Scalar>, inout [Scalar], _ measuring: Bool) throws -> Void
) throws -> Relaxation {
    var rowChanges = [Scalar](repeating: 0, count: state.batchSize)
    // The examples still moving: their rows in `state`, their states, their energy.
    var moving = Array(0..<state.batchSize)
    var part = state, partEnergy = energy
    var gradient = NetworkState(zerosLike: part)
    var changes = rowChanges
    var taken = 0, exampleSteps = 0
    while taken < steps {
        let measuring = tolerance != nil || taken == steps - 1
        if measuring { changes.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        try step(&part, partEnergy, &gradient, &changes, measuring)
        taken += 1
        guard measuring else { continue }
        for (i, row) in moving.enumerated() { rowChanges[row] = changes[i] }
        guard let tolerance else { continue }
        let stillMoving = changes.indices.filter { changes[$0] > tolerance }
        if stillMoving.isEmpty { break }
        if stillMoving.count < moving.count {
            exampleSteps += (moving.count - stillMoving.count) * taken
            state.setRows(moving, from: part, layers: energy.freeLayers)
            moving = stillMoving.map { moving[$0] }
            part = part.rows(stillMoving)
            partEnergy = energy.restricted(to: moving)
            gradient = NetworkState(zerosLike: part)
            changes = [Scalar](repeating: 0, count: moving.count)
        }
    }
    exampleSteps += moving.count * taken
    if moving.count == state.batchSize { state = part } else { state.setRows(moving, from: part, layers: energy.freeLayers) }
    return try Relaxation(ending: state, under: energy, steps: taken, exampleSteps: exampleSteps, rowChanges: rowChanges, tolerance: tolerance)
}

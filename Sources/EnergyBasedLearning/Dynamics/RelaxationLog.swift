import Synchronization

/// What the relaxations of a dynamics did, added up: a sink the dynamics report to, from any
/// thread, and that a trainer reads once per epoch (``Trainer/secondPhaseLog``).
public final class RelaxationLog: Sendable {
    /// Sums over the relaxations recorded since the last ``take()``.
    public struct Totals: Sendable, Equatable {
        public var relaxations = 0
        public var steps = 0
        public var examples = 0
        public var unsettledExamples = 0
        /// The steps of every example relaxed (``Relaxation/exampleSteps``), summed.
        public var exampleSteps = 0

        /// Mean steps per relaxation.
        public var meanSteps: Double { relaxations > 0 ? Double(steps) / Double(relaxations) : 0 }
        /// Mean steps per example relaxed.
        public var meanExampleSteps: Double { examples > 0 ? Double(exampleSteps) / Double(examples) : 0 }
        /// Fraction of the examples relaxed that did not settle.
        public var unsettledFraction: Double { examples > 0 ? Double(unsettledExamples) / Double(examples) : 0 }
    }

    private let totals = Mutex(Totals())

    public init() {}

    /// Adds a relaxation of `examples` examples.
    public func record(_ relaxation: Relaxation, examples: Int) {
        totals.withLock {
            $0.relaxations += 1
            $0.steps += relaxation.steps
            $0.examples += examples
            $0.unsettledExamples += relaxation.unsettledExamples
            $0.exampleSteps += relaxation.exampleSteps
        }
    }

    /// The totals so far, and a fresh start.
    public func take() -> Totals {
        totals.withLock { totals in
            defer { totals = Totals() }
            return totals
        }
    }
}

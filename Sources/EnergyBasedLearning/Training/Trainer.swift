import Foundation
import LinearAlgebra

/// Trains a layered energy-based network with a learning rule, mini-batch by mini-batch: for each
/// batch, the images' augmentation (``augmentation``, if any), the free phase (``freeDynamics``),
/// the rule's estimate (``rule``), the optimizer's step and the weight decay. Any energy, dynamics,
/// rule and optimizer compose; a ``LearningSpecification`` builds one from a run's settings
/// (``LearningSpecification/makeTrainer(trainingCount:parallelBlocks:)``).
public struct Trainer<Scalar: BLASScalar>: Sendable {
    public var energy: LayeredEnergy<Scalar>
    public var freeDynamics: any Dynamics<Scalar>
    public var rule: any LearningRule<Scalar>
    public var cost: any Cost<Scalar>
    /// What turns each batch's gradient estimate into a parameter update.
    public var optimizer: any Optimizer<Scalar>
    /// `α_k` per learning-rate group (see ``LayeredEnergy/learningRateGroups``), before the schedule.
    public var learningRates: [Scalar]
    /// How the rates change over a run of `plannedEpochs` epochs.
    public var schedule: LearningRateSchedule
    /// Decoupled weight decay `λ`: after each step, parameters of group `k` shrink by `1 − α_k λ`.
    public var weightDecay: Scalar = 0
    /// The random changes made to each training batch's images (`nil`: none); evaluation never makes them.
    public var augmentation: ImageAugmentation?
    /// Where the rule's second-phase dynamics report their relaxations, if they do; each epoch's
    /// ``Measurement`` reads it.
    public var secondPhaseLog: RelaxationLog?
    public var plannedEpochs: Int
    /// The epochs trained so far (set when a run resumes from a checkpoint).
    public var epochsTrained = 0
    public var batchSize: Int
    /// The rows relaxed at once by ``evaluate(on:batchSize:seed:)``: 1000, or the training batch
    /// size for a network with a convolution (see ``LearningSpecification/makeTrainer(trainingCount:parallelBlocks:)``).
    public var evaluationBatchSize = 1000
    /// With persistent particles, each training example's last free fixed point (one `count × units`
    /// matrix per non-input layer, layer 1 first); `nil` when each free phase starts from zero.
    public var particles: [Matrix<Scalar>]?
    public var generator: SeededGenerator
    /// The processes this trainer trains with, data-parallel (`nil`: alone): each relaxes its share
    /// of every batch (``ProcessGroup/share(of:)``), the shares' estimates are summed and every
    /// process takes the same step; an epoch's measurements are totals over the group, and
    /// ``evaluate(on:batchSize:seed:)`` gives each process every `size`-th batch. Every process
    /// must call both. The processes draw the same random numbers, so the noise of Langevin
    /// dynamics and persistent particles are not implemented with a group (the run specification
    /// refuses them).
    public var group: (any ProcessGroup)?

    public init(energy: LayeredEnergy<Scalar>, freeDynamics: any Dynamics<Scalar>, rule: any LearningRule<Scalar>,
                cost: any Cost<Scalar> = SquaredError(), optimizer: any Optimizer<Scalar> = StochasticGradientDescent(),
                learningRates: [Scalar], schedule: LearningRateSchedule = .constant, plannedEpochs: Int = 1, batchSize: Int,
                persistentParticlesFor trainingCount: Int? = nil, generator: SeededGenerator) {
        self.energy = energy
        self.freeDynamics = freeDynamics
        self.rule = rule
        self.cost = cost
        self.optimizer = optimizer
        self.learningRates = learningRates
        self.schedule = schedule
        self.plannedEpochs = plannedEpochs
        self.batchSize = batchSize
        self.particles = trainingCount.map { count in energy.layerSizes.dropFirst().map { Matrix(rows: count, columns: $0) } }
        self.generator = generator
    }

    /// What one pass over a data set measured.
    public struct Measurement: Sendable, Equatable, Codable {
        /// Fraction of examples whose largest output unit is not the label, at the free fixed point.
        public var error: Double
        /// Mean cost `C` at the free fixed point.
        public var cost: Double
        /// Mean energy `E(s⁰)` per example at the free fixed point (measured by ``evaluate(on:batchSize:seed:)``;
        /// 0 during training, and always 0 on the predictive-coding energy, whose free phase is its minimum).
        public var energy: Double = 0
        public var examples: Int
        /// Mean steps of the free phase per batch (the most any example took).
        public var freeSteps: Double = 0
        /// Mean steps of the free phase per example (with a tolerance each example stops once settled).
        public var freeExampleSteps: Double = 0
        /// Fraction of the examples whose free phase did not reach a fixed point: its last step still
        /// moved a unit by more than the dynamics' tolerance (1e-4 when it has none).
        public var unsettledFraction: Double = 0
        /// The rule's second phases, from ``secondPhaseLog`` (`nil` without one): mean steps per
        /// relaxation, mean steps per example, and the fraction of the examples relaxed that did not settle.
        public var secondPhaseSteps: Double?
        public var secondPhaseExampleSteps: Double?
        public var secondPhaseUnsettledFraction: Double?
    }

    /// Progress within an epoch, reported after each batch.
    public struct Progress: Sendable {
        public var examplesSeen: Int
        public var examples: Int
        public var runningError: Double
    }

    public enum Failure: Error, CustomStringConvertible {
        case diverged(batch: Int, reason: String)
        /// The processes of a ``ProcessGroup`` no longer hold the same parameters or generator.
        case outOfStep(epoch: Int)

        public var description: String {
            switch self {
            case let .diverged(batch, reason): return "training diverged at batch \(batch): \(reason)"
            case let .outOfStep(epoch):
                return "after epoch \(epoch) the processes hold different parameters or random generators: their steps were not the same"
            }
        }
    }

    /// The factor the schedule applies to `learningRates` in the next epoch.
    public var learningRateFactor: Double { schedule.factor(epoch: epochsTrained + 1, of: plannedEpochs) }

    /// One epoch of training in a shuffled order: free phase, learning rule, update, for each batch,
    /// with the rates `learningRates · learningRateFactor`.
    /// Returns the error and cost measured at the free fixed points during the epoch (as in the paper).
    @_specialize(where Scalar == Float)
    public mutating func trainEpoch(on data: ClassificationData<Scalar>, progress: (Progress) throws -> Void = { _ in }) throws -> Measurement {
        let rates = learningRates.map { $0 * Scalar(learningRateFactor) }
        epochsTrained += 1
        var order = Array(0..<data.count)
        order.shuffle(using: &generator)
        var errors = 0, totalCost = 0.0, totalSteps = 0, exampleSteps = 0, unsettled = 0, batches = 0, seen = 0
        precondition(group == nil || particles == nil, "persistent particles are not implemented with a process group")
        _ = secondPhaseLog?.take()
        for (batchIndex, start) in stride(from: 0, to: data.count, by: batchSize).enumerated() {
            let batch = Array(order[start..<Swift.min(start + batchSize, data.count)])
            let share = group.map { Array(batch[$0.share(of: batch.count)]) } ?? batch
            // A process whose share is empty (a batch smaller than the group) relaxes the batch's first
            // example and discards it: it draws the same random numbers as the others (a nudge's
            // sign), so that every generator stays in step.
            let indices = share.isEmpty ? [batch[0]] : share
            let target = data.targets.gatheringRows(indices)
            var inputs = data.inputs.gatheringRows(indices)
            if let augmentation {
                // Drawn for the whole batch, so that every process of a group draws the same numbers.
                let draws = augmentation.draws(count: batch.count, using: &generator)
                let positions = share.isEmpty ? 0..<1 : group.map { $0.share(of: batch.count) } ?? 0..<batch.count
                augmentation.apply(Array(draws[positions]), to: &inputs)
            }
            var state = NetworkState(input: inputs, layerSizes: energy.layerSizes)
            if let particles {
                for k in 1..<state.layers.count { state.layers[k] = particles[k - 1].gatheringRows(indices) }
            }
            let estimate: any GradientEstimate<Scalar>
            do {
                // The clamped energy shares the parameters' storage: it must be gone before the
                // update, or the update would copy every weight matrix.
                let clamped = ClampedEnergy(energy, clamping: [0], at: state)
                let relaxation = try freeDynamics.relax(&state, under: clamped, using: &generator)
                if !share.isEmpty {
                    totalSteps += relaxation.steps
                    exampleSteps += relaxation.exampleSteps
                    unsettled += relaxation.unsettledExamples
                    batches += 1
                }
                estimate = try rule.estimate(energy: clamped, freeState: state, target: target, using: &generator)
            } catch let error as RelaxationError {
                throw Failure.diverged(batch: batchIndex, reason: error.description)
            }
            if particles != nil {
                for k in 1..<state.layers.count { particles![k - 1].scatterRows(state.layers[k], to: indices) }
            }
            if !share.isEmpty {
                errors += zip(state.output.argmaxPerRow(), indices).filter { $0 != data.labels[$1] }.count
                totalCost += cost.cost(output: state.output, target: target)
                seen += indices.count
            }
            if let group {
                let gradient = share.isEmpty ? energy.parameters.map { $0.map { Matrix(rows: $0.rows, columns: $0.columns) } }
                    : estimate.gradient(of: energy)
                let summed = try group.sum(gradient, shapedLike: energy)
                optimizer.step(&energy, along: AccumulatedGradient(gradients: summed, batchSize: batch.count), learningRates: rates)
            } else {
                optimizer.step(&energy, along: estimate, learningRates: rates)
            }
            if weightDecay > 0 { energy.decayParameters(by: rates.map { $0 * weightDecay }) }
            try progress(Progress(examplesSeen: start + batch.count, examples: data.count,
                                  runningError: Double(errors) / Double(Swift.max(seen, 1))))
        }
        guard energy.parametersAreFinite else {
            throw Failure.diverged(batch: (data.count - 1) / batchSize, reason: "a weight or bias became NaN or infinite")
        }
        var secondPhase = secondPhaseLog?.take()
        if let group {
            var totals = [Double(errors), totalCost, Double(totalSteps), Double(unsettled), Double(batches), Double(exampleSteps)]
            if let log = secondPhase { totals += [log.relaxations, log.steps, log.examples, log.unsettledExamples, log.exampleSteps].map(Double.init) }
            try group.sum(&totals)
            (errors, totalCost, totalSteps, unsettled, batches, exampleSteps) = (Int(totals[0]), totals[1], Int(totals[2]), Int(totals[3]), Int(totals[4]), Int(totals[5]))
            if secondPhase != nil {
                secondPhase = RelaxationLog.Totals(relaxations: Int(totals[6]), steps: Int(totals[7]), examples: Int(totals[8]), unsettledExamples: Int(totals[9]),
                                                   exampleSteps: Int(totals[10]))
            }
            try requireStep(with: group)
        }
        return Measurement(error: Double(errors) / Double(data.count), cost: totalCost / Double(data.count), examples: data.count,
                           freeSteps: Double(totalSteps) / Double(Swift.max(batches, 1)), freeExampleSteps: Double(exampleSteps) / Double(data.count),
                           unsettledFraction: Double(unsettled) / Double(data.count),
                           secondPhaseSteps: secondPhase.flatMap { $0.relaxations > 0 ? $0.meanSteps : nil },
                           secondPhaseExampleSteps: secondPhase.flatMap { $0.relaxations > 0 ? $0.meanExampleSteps : nil },
                           secondPhaseUnsettledFraction: secondPhase.flatMap { $0.relaxations > 0 ? $0.unsettledFraction : nil })
    }

    /// Throws ``Failure/outOfStep`` unless every process of `group` holds the same parameters,
    /// optimizer state and generator (compared by a hash).
    func requireStep(with group: any ProcessGroup) throws {
        var hash = StableHash()
        var generator = self.generator
        hash.combine(generator.next())
        hash.combine(UInt64(optimizer.memory.steps))
        for term in energy.terms {
            for parameter in term.parameters { parameter.elements.withUnsafeBytes { hash.combine($0) } }
        }
        guard try group.agree(on: hash.value) else { throw Failure.outOfStep(epoch: epochsTrained) }
    }

    /// Error and cost at the free fixed point, relaxed from zero, in batches of `batchSize` rows
    /// (``evaluationBatchSize`` by default). Noisy dynamics draw from a generator seeded with `seed`,
    /// so evaluation is reproducible. With a ``group``, each process relaxes every `size`-th batch
    /// and the totals are summed.
    public func evaluate(on data: ClassificationData<Scalar>, batchSize: Int? = nil, seed: UInt64 = 0) throws -> Measurement {
        let batchSize = batchSize ?? evaluationBatchSize
        var errors = 0, totalCost = 0.0, totalEnergy = 0.0, totalSteps = 0, exampleSteps = 0, unsettled = 0, batches = 0
        var generator = SeededGenerator(seed: seed)
        for (batchIndex, start) in stride(from: 0, to: data.count, by: batchSize).enumerated()
        where group.map({ batchIndex % $0.size == $0.rank }) ?? true {
            let rows = start..<Swift.min(start + batchSize, data.count)
            let target = data.targets.rows(rows)
            var state = NetworkState(input: data.inputs.rows(rows), layerSizes: energy.layerSizes)
            let relaxation = try freeDynamics.relax(&state, under: ClampedEnergy(energy, clamping: [0], at: state), using: &generator)
            totalSteps += relaxation.steps
            exampleSteps += relaxation.exampleSteps
            unsettled += relaxation.unsettledExamples
            batches += 1
            errors += zip(state.output.argmaxPerRow(), rows).filter { $0 != data.labels[$1] }.count
            totalCost += cost.cost(output: state.output, target: target)
            totalEnergy += energy.energy(at: state)
        }
        if let group {
            var totals = [Double(errors), totalCost, totalEnergy, Double(totalSteps), Double(unsettled), Double(batches), Double(exampleSteps)]
            try group.sum(&totals)
            (errors, totalCost, totalEnergy, totalSteps, unsettled, batches, exampleSteps)
                = (Int(totals[0]), totals[1], totals[2], Int(totals[3]), Int(totals[4]), Int(totals[5]), Int(totals[6]))
        }
        return Measurement(error: Double(errors) / Double(data.count), cost: totalCost / Double(data.count),
                           energy: totalEnergy / Double(data.count), examples: data.count,
                           freeSteps: Double(totalSteps) / Double(Swift.max(batches, 1)), freeExampleSteps: Double(exampleSteps) / Double(data.count),
                           unsettledFraction: Double(unsettled) / Double(data.count))
    }
}

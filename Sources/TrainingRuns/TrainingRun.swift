import EnergyBasedLearning
import Foundation
import LinearAlgebra

/// A training run: a ``Trainer``, its data, and what the run records after each epoch — the
/// epoch's metrics, the test error, the rule's alignment with the exact gradient and, in a run
/// folder, the metrics files, the model and a checkpoint from which ``resume()`` continues exactly.
///
/// The trainer can come from a run file (``init(_:name:data:trainLimit:folder:parallelBlocks:)``)
/// or be composed in code from any energy, dynamics, rule and optimizer
/// (``init(trainer:name:training:validation:test:folder:)``): both train, checkpoint, resume and
/// save alike. With a validation set, each epoch is measured on it too, and ``metrics`` reports the
/// test error of the epoch chosen on it (never on the test set).
/// `eqprop train` is this loop with a command line around it.
public struct TrainingRun {
    public var trainer: Trainer<Float>
    /// The run's name in reports: its preset or run file, or what the code calls it.
    public var name: String
    public let training: ClassificationData<Float>
    /// What the epoch is chosen on, if held out.
    public let validation: ClassificationData<Float>?
    public let test: ClassificationData<Float>
    /// The run file, when the run was described by one: saved with the model and the checkpoints,
    /// so that `eqprop evaluate` and `eqprop train --resume` can rebuild the network.
    public private(set) var runFile: RunFile?
    /// `--train-limit`: the run trains on the first examples only.
    public let trainLimit: Int?
    /// Where the run is recorded after each epoch (`nil`: nowhere).
    public var folder: RunFolder?
    /// The records of the epochs trained so far.
    public private(set) var history: [EpochRecord] = []
    /// Where the model is saved after each epoch, besides the run folder's `model/` (`nil`: nowhere else).
    public var modelFolder: URL?
    /// Where the metrics are written as JSON after each epoch (`nil`: nowhere else).
    public var metricsFile: URL?
    /// After each epoch, measure the rule's update against the exact gradient on this many test
    /// examples, in Double (0: never). Needs a run file, from which the Double network is built.
    public var alignmentExamples = 0

    /// What happens during training, for a progress display.
    public enum Event {
        /// After each batch: the epoch, the progress within it, and the seconds since it began.
        case progress(epoch: Int, Trainer<Float>.Progress, seconds: Double)
        /// After each epoch, once it is recorded.
        case epoch(EpochRecord, TrainingMetrics)
        /// Something worth knowing that does not stop training (a failed measurement, a collapse).
        case warning(String)
    }

    /// A run of `trainer` on `training`, measured on `validation` (if given) and `test`, recorded in
    /// `folder` if given.
    public init(trainer: Trainer<Float>, name: String, training: ClassificationData<Float>, validation: ClassificationData<Float>? = nil,
                test: ClassificationData<Float>, folder: RunFolder? = nil) {
        self.trainer = trainer
        self.name = name
        self.training = training
        self.validation = validation
        self.test = test
        self.folder = folder
        trainLimit = nil
    }

    /// The run that `runFile` describes, its trainer built from it, each relaxation split into
    /// `parallelBlocks` blocks of examples on separate threads. A new run folder receives the run
    /// file first.
    public init(_ runFile: RunFile, name: String, data: DataSplits, trainLimit: Int? = nil, folder: RunFolder? = nil,
                parallelBlocks: Int = 1) throws {
        let sizes = runFile.specification.learning.architecture.layerSizes
        guard data.training.inputs.columns == sizes.first, data.training.targets.columns == sizes.last else {
            throw RunFileError(file: "--layers", line: nil,
                               message: "the data has \(data.training.inputs.columns) inputs and \(data.training.targets.columns) classes, the network \(sizes)")
        }
        trainer = try runFile.specification.learning.makeTrainer(trainingCount: data.training.count, parallelBlocks: parallelBlocks)
        self.name = name
        self.runFile = runFile
        training = data.training
        validation = data.validation
        test = data.test
        self.trainLimit = trainLimit
        self.folder = folder
    }

    /// Continues from the newest checkpoint in ``folder`` that reads back and fits the trainer:
    /// parameters, optimizer state, particles, the generator, the epochs trained and their records.
    /// Returns the newer checkpoints refused, each with its reason (they stay on disk).
    @discardableResult
    public mutating func resume() throws -> [CheckpointError] {
        guard let folder else { throw RunFolderError("a run without a folder has no checkpoint to resume from") }
        var trainer = self.trainer
        let (checkpoint, refused) = try Self.newestUsableCheckpoint(in: folder) { checkpoint, file in
            try checkpoint.restore(into: &trainer, file: file.path)
            return checkpoint
        }
        self.trainer = trainer
        history = checkpoint.metadata.history
        return refused
    }

    /// The run recorded in `folder`, continued from its newest usable checkpoint: the run file is the
    /// checkpoint's, the data comes from `load` (given the run and its `--train-limit`). Returns the
    /// run and the newer checkpoints refused.
    public static func resuming(
        _ folder: RunFolder, parallelBlocks: (RunSpecification) -> Int = { _ in 1 },
        load: (RunSpecification, _ trainLimit: Int?) throws -> DataSplits
    ) throws -> (run: TrainingRun, refused: [CheckpointError]) {
        try newestUsableCheckpoint(in: folder) { checkpoint, file in
            guard var runFile = try checkpoint.runFile(file: file.path) else {
                throw CheckpointError(file: file.path, reason: "the run was composed in code; rebuild its trainer and call resume()")
            }
            runFile.output = folder.url.path
            var run = try TrainingRun(runFile, name: folder.url.path, data: try load(runFile.specification, checkpoint.metadata.trainLimit),
                                      trainLimit: checkpoint.metadata.trainLimit, folder: folder, parallelBlocks: parallelBlocks(runFile.specification))
            try checkpoint.restore(into: &run.trainer, file: file.path)
            run.history = checkpoint.metadata.history
            return run
        }
    }

    /// `use` applied to the newest checkpoint in `folder` for which it succeeds, and the newer ones
    /// refused (unreadable, or refused by `use`).
    private static func newestUsableCheckpoint<T>(in folder: RunFolder, _ use: (Checkpoint, URL) throws -> T) throws -> (T, [CheckpointError]) {
        var refused: [CheckpointError] = []
        for file in try folder.checkpointFiles().reversed() {
            do {
                return (try use(try Checkpoint(contentsOf: file), file), refused)
            } catch let error as CheckpointError {
                refused.append(error)
            }
        }
        let reasons = refused.map { "\n  \($0)" }.joined()
        throw RunFolderError("\(folder.checkpoints.path): no usable checkpoint to resume from\(reasons.isEmpty ? " (none written yet)" : ":" + reasons)")
    }

    /// Trains the epochs left of the trainer's plan (``Trainer/plannedEpochs``), each recorded.
    public mutating func train(onEvent: (Event) throws -> Void = { _ in }) throws {
        if trainer.epochsTrained == 0, history.isEmpty, let runFile { try folder?.start(runFile) }
        while trainer.epochsTrained < trainer.plannedEpochs {
            try trainEpoch(onEvent: onEvent)
        }
    }

    /// One epoch: training, the test error, the alignment (if asked), the record, and the folder's
    /// files and checkpoint.
    @discardableResult
    public mutating func trainEpoch(onEvent: (Event) throws -> Void = { _ in }) throws -> EpochRecord {
        let epoch = trainer.epochsTrained + 1
        let learningRateFactor = trainer.learningRateFactor
        let watch = Stopwatch()
        let trained = try trainer.trainEpoch(on: training) { try onEvent(.progress(epoch: epoch, $0, seconds: watch.seconds)) }
        let elapsed = watch.seconds
        let validated = try validation.map { try trainer.evaluate(on: $0) }
        let tested = try trainer.evaluate(on: test)
        var alignment: GradientComparison?
        if alignmentExamples > 0, let learning = runFile?.specification.learning {
            // A measurement, not part of training: if it fails, say so and train on.
            do {
                let report = try trainer.alignment(specification: learning, on: test, examples: alignmentExamples)
                if let measured = report.comparison, measured.cosine.isFinite && measured.relativeError.isFinite {
                    alignment = measured
                } else {
                    let reason = report.hypotheses.explanation ?? "the rule's estimate is not finite"
                    try onEvent(.warning("epoch \(epoch): alignment undefined on \(alignmentExamples) test examples: \(reason)"))
                }
            } catch {
                try onEvent(.warning("epoch \(epoch): alignment not measured: \(error)"))
            }
        }
        var record = EpochRecord(epoch: epoch, trainError: trained.error, testError: tested.error, trainCost: trained.cost, testCost: tested.cost,
                                 seconds: elapsed, learningRateFactor: learningRateFactor, testEnergy: tested.energy, alignment: alignment)
        record.validationError = validated?.error
        record.validationCost = validated?.cost
        record.freeSteps = trained.freeSteps
        record.freeExampleSteps = trained.freeExampleSteps
        record.unsettledFraction = trained.unsettledFraction
        record.secondPhaseSteps = trained.secondPhaseSteps
        record.secondPhaseExampleSteps = trained.secondPhaseExampleSteps
        record.secondPhaseUnsettledFraction = trained.secondPhaseUnsettledFraction
        history.append(record)
        if let warning = EpochRecord.collapseWarning(history, stableSteps: runFile?.specification.learning.dynamics.stableSteps ?? false) {
            try onEvent(.warning(warning))
        }
        let metrics = self.metrics
        if let modelFolder { try ModelArchive.save(trainer.energy, run: runFile?.specification, to: modelFolder) }
        if let metricsFile { try AtomicFile.write(prettyJSON(metrics), to: metricsFile) }
        try folder?.record(history, metrics: metrics, checkpoint: Checkpoint(trainer: trainer, run: runFile, trainLimit: trainLimit, history: history),
                           energy: trainer.energy)
        try onEvent(.epoch(record, metrics))
        return record
    }

    /// The summary after the latest epoch.
    public var metrics: TrainingMetrics {
        TrainingMetrics(name: name, dataset: runFile?.specification.data.dataset.rawValue ?? "", run: runFile?.specification, history: history,
                        trainingExamples: training.count, blasKernel: BLAS.coreName)
    }
}

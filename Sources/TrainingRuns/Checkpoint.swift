import EnergyBasedLearning
import Foundation
import LinearAlgebra
import ZIPFoundation

/// A training run's complete state after an epoch, stored as a NumPy `.npz` archive:
///
/// - one `.npy` array per parameter, named like the energy's terms (`W0-1`, `b1`, …);
/// - the optimizer's memory, `optimizer/<slot>/<parameter>` (Adam: `m` and `v`);
/// - with persistent particles, each example's last fixed point, `particles/<layer>`;
/// - `metadata.json`: the run file, the epoch, the random generator's state, the optimizer's step
///   count and the metrics of every epoch so far.
///
/// `numpy.load("epoch-0003.npz")["W0-1"]` opens a weight matrix and
/// `json.loads(numpy.load(f)["metadata.json"])` the metadata. A run restored from a checkpoint
/// continues exactly as the run that wrote it would have.
public struct Checkpoint: Sendable {
    public struct Metadata: Codable, Sendable, Equatable {
        /// The layout's version (1).
        public var format: Int
        /// The run, as a run file.
        public var run: String
        /// `--train-limit`, which changes the data the run trains on.
        public var trainLimit: Int?
        /// Epochs completed.
        public var epoch: Int
        public var generator: SeededGenerator
        public var optimizerSteps: Int
        /// Every epoch's metrics so far.
        public var history: [EpochRecord]

        enum CodingKeys: String, CodingKey {
            case format, run, epoch, generator, history
            case trainLimit = "train_limit", optimizerSteps = "optimizer_steps"
        }
    }

    public var metadata: Metadata
    /// Every term's parameters, in the order of the energy's terms.
    public var parameters: [[Matrix<Float>]]
    public var optimizer: OptimizerMemory<Float>
    public var particles: [Matrix<Float>]?

    public static let format = 1

    /// The state of `trainer` after `history.count` epochs of `run`.
    public init(trainer: Trainer<Float>, run: RunFile, trainLimit: Int?, history: [EpochRecord]) {
        metadata = Metadata(format: Self.format, run: run.yaml, trainLimit: trainLimit, epoch: trainer.epochsTrained,
                            generator: trainer.generator, optimizerSteps: trainer.optimizer.memory.steps, history: history)
        parameters = trainer.energy.parameters
        optimizer = trainer.optimizer.memory
        particles = trainer.particles
    }

    /// The run this checkpoint belongs to.
    public func runFile(file: String) throws -> RunFile {
        try RunFile(yaml: metadata.run, file: "\(file) (metadata.json, run)")
    }

    /// Puts this state into `trainer`, a fresh trainer of the same run; throws if any array's shape
    /// differs from the trainer's.
    public func restore(into trainer: inout Trainer<Float>, file: String) throws {
        func check(_ arrays: [[Matrix<Float>]], _ what: String) throws {
            let expected = trainer.energy.parameters
            guard arrays.count == expected.count,
                  zip(arrays, expected).allSatisfy({ a, b in a.count == b.count && zip(a, b).allSatisfy { $0.rows == $1.rows && $0.columns == $1.columns } })
            else {
                throw CheckpointError(file: file, reason: "the \(what) do not have the shapes of the run's network \(trainer.energy.layerSizes)")
            }
        }
        try check(parameters, "parameters")
        for (slot, arrays) in optimizer.slots { try check(arrays, "optimizer's '\(slot)' arrays") }
        if let expected = trainer.particles {
            guard let particles, particles.count == expected.count,
                  zip(particles, expected).allSatisfy({ $0.rows == $1.rows && $0.columns == $1.columns }) else {
                throw CheckpointError(file: file, reason: "expected persistent particles for \(expected.first?.rows ?? 0) examples")
            }
        }
        trainer.energy.parameters = parameters
        trainer.optimizer.memory = optimizer
        trainer.generator = metadata.generator
        trainer.epochsTrained = metadata.epoch
        trainer.particles = particles
    }

    /// The `.npz` bytes; `names` are the energy's parameter names (``LayeredEnergy/parameterNames``).
    public func npz(names: [[String]]) throws -> Data {
        let archive = try Archive(accessMode: .create)
        func add(_ name: String, _ data: Data) throws {
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), modificationDate: Date(timeIntervalSince1970: 0),
                                 provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
        }
        for (termNames, termParameters) in zip(names, parameters) {
            for (name, matrix) in zip(termNames, termParameters) { try add("\(name).npy", NPY.encode(matrix)) }
        }
        for (slot, arrays) in optimizer.slots.sorted(by: { $0.key < $1.key }) {
            for (termNames, termArrays) in zip(names, arrays) {
                for (name, matrix) in zip(termNames, termArrays) { try add("optimizer/\(slot)/\(name).npy", NPY.encode(matrix)) }
            }
        }
        for (k, matrix) in (particles ?? []).enumerated() { try add("particles/\(k + 1).npy", NPY.encode(matrix)) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try add("metadata.json", try encoder.encode(metadata))
        guard let data = archive.data else { throw CheckpointError(file: "(memory)", reason: "the archive was not written") }
        return data
    }

    /// Reads a checkpoint file written from ``npz(names:)``. Every entry's CRC-32 is checked, and
    /// every array named by the run's network must be present.
    ///
    /// The archive is read from the file, not from memory: fuzzing found that ZIPFoundation's
    /// in-memory reader traps on some corrupted archives, while its file reader reports them.
    public init(contentsOf url: URL) throws {
        let file = url.path
        let entries: [String: Data]
        do {
            let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int64 ?? 0
            let archive = try Archive(url: url, accessMode: .read)
            var read: [String: Data] = [:]
            for entry in archive {
                // Stored entries are as large as their data; deflate expands at most 1032-fold.
                guard entry.type == .file, entry.uncompressedSize <= size * 1032 else {
                    throw CheckpointError(file: file, reason: "entry \(entry.path) is not a plain file of plausible size")
                }
                var content = Data()
                _ = try archive.extract(entry) { content.append($0) }
                read[entry.path] = content
            }
            entries = read
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(file: file, reason: "not a readable .npz (zip) archive, truncated or corrupted: \(error)")
        }
        guard let metadataBytes = entries["metadata.json"] else {
            throw CheckpointError(file: file, reason: "no metadata.json; expected a checkpoint written by `eqprop train --output`")
        }
        do {
            metadata = try JSONDecoder().decode(Metadata.self, from: metadataBytes)
        } catch {
            throw CheckpointError(file: file, reason: "metadata.json is not a checkpoint description: \(error)")
        }
        guard metadata.format == Self.format else {
            throw CheckpointError(file: file, reason: "checkpoint format \(metadata.format), this version reads \(Self.format)")
        }
        let run: RunFile
        do {
            run = try RunFile(yaml: metadata.run, file: "\(file) (metadata.json, run)")
        } catch {
            throw CheckpointError(file: file, reason: "\(error)")
        }
        var generator = SeededGenerator(seed: 0)
        let names = (run.configuration.makeEnergy(using: &generator) as LayeredEnergy<Float>).parameterNames
        func array(_ name: String) throws -> Matrix<Float> {
            guard let bytes = entries[name + ".npy"] else { throw CheckpointError(file: file, reason: "no array \(name)") }
            do {
                return try NPY.decode(bytes, file: "\(file)[\(name)]")
            } catch {
                throw CheckpointError(file: file, reason: "\(error)")
            }
        }
        parameters = try names.map { try $0.map(array) }
        var slots: [String: [[Matrix<Float>]]] = [:]
        let slotNames = Set(entries.keys.filter { $0.hasPrefix("optimizer/") }.compactMap { $0.split(separator: "/").dropFirst().first.map(String.init) })
        for slot in slotNames { slots[slot] = try names.map { try $0.map { try array("optimizer/\(slot)/\($0)") } } }
        optimizer = OptimizerMemory(steps: metadata.optimizerSteps, slots: slots)
        particles = run.configuration.persistentParticles
            ? try (1..<run.configuration.layerSizes.count).map { try array("particles/\($0)") } : nil
    }
}

/// A checkpoint that cannot be used, and why.
public struct CheckpointError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var reason: String

    public var description: String { "\(file): checkpoint refused: \(reason)" }
}

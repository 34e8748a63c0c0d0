import EnergyBasedLearning
import Foundation
import LinearAlgebra
import ZIPFoundation

/// A training run's complete state after an epoch, stored as a NumPy `.npz` archive:
///
/// - one `.npy` array per parameter, named like the energy's terms (`W0-1`, `b1`, …);
/// - the optimizer's memory, `optimizer/<slot>/<parameter>` (Adam: `m` and `v`);
/// - with persistent particles, each example's last fixed point, `particles/<layer>`;
/// - `metadata.json`: the run file (for a run described by one), the epoch, the random generator's
///   state, the optimizer's step count and the metrics of every epoch so far.
///
/// `numpy.load("epoch-0003.npz")["W0-1"]` opens a weight matrix and
/// `json.loads(numpy.load(f)["metadata.json"])` the metadata. Arrays are matched to a trainer's
/// parameters by name, so a network composed in code is checkpointed and restored like one built
/// from a run file, and a run restored from a checkpoint continues exactly as the run that wrote it
/// would have.
public struct Checkpoint: Sendable {
    public struct Metadata: Codable, Sendable, Equatable {
        /// The layout's version: 2 (1: the run file of an earlier version of EqProp, converted when read).
        public var format: Int
        /// The run, as a run file; `nil` for a run composed in code.
        public var run: String?
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
    /// Every array by name: parameters (`W0-1`), optimizer slots (`optimizer/m/W0-1`), particles (`particles/1`).
    public var arrays: [String: Matrix<Float>]
    /// The shape an array is written with when it is not its matrix's (a convolution's weight and its
    /// optimizer slots: `[C_out, C_in, k, k]`, see ``EnergyTerm/parameterShapes``).
    public var shapes: [String: [Int]] = [:]

    public static let format = 2

    /// The state of `trainer` after `history.count` epochs of `run` (`nil` for a run composed in code).
    public init(trainer: Trainer<Float>, run: RunFile?, trainLimit: Int?, history: [EpochRecord]) {
        metadata = Metadata(format: Self.format, run: run?.yaml, trainLimit: trainLimit, epoch: trainer.epochsTrained,
                            generator: trainer.generator, optimizerSteps: trainer.optimizer.memory.steps, history: history)
        let names = trainer.energy.parameterNames
        let parameterShapes = trainer.energy.terms.map(\.parameterShapes)
        var arrays: [String: Matrix<Float>] = [:]
        var shapes: [String: [Int]] = [:]
        func add(_ matrices: [[Matrix<Float>]], prefix: String) {
            for (termNames, (termMatrices, termShapes)) in zip(names, zip(matrices, parameterShapes)) {
                for (name, (matrix, shape)) in zip(termNames, zip(termMatrices, termShapes)) {
                    arrays[prefix + name] = matrix
                    if shape != [matrix.rows, matrix.columns] { shapes[prefix + name] = shape }
                }
            }
        }
        add(trainer.energy.parameters, prefix: "")
        for (slot, matrices) in trainer.optimizer.memory.slots { add(matrices, prefix: "optimizer/\(slot)/") }
        for (k, matrix) in (trainer.particles ?? []).enumerated() { arrays["particles/\(k + 1)"] = matrix }
        self.arrays = arrays
        self.shapes = shapes
    }

    /// The run this checkpoint belongs to, if it was described by a run file.
    public func runFile(file: String) throws -> RunFile? {
        try metadata.run.map { try RunFile(yaml: $0, file: "\(file) (metadata.json, run)") }
    }

    /// Puts this state into `trainer`, a fresh trainer of the same network: every parameter, the
    /// optimizer's memory and the particles by name. Throws, changing nothing, if an array is missing
    /// or its shape differs from the trainer's.
    public func restore(into trainer: inout Trainer<Float>, file: String) throws {
        let names = trainer.energy.parameterNames
        func arrays(like reference: [[Matrix<Float>]], prefix: String, _ what: String) throws -> [[Matrix<Float>]] {
            try zip(names, reference).map { termNames, termMatrices in
                try zip(termNames, termMatrices).map { name, matrix in
                    guard let stored = self.arrays[prefix + name] else {
                        throw CheckpointError(file: file, reason: "no array \(prefix + name): the \(what) of another network")
                    }
                    guard stored.rows == matrix.rows, stored.columns == matrix.columns else {
                        throw CheckpointError(file: file, reason: "\(prefix + name) is \(stored.rows)×\(stored.columns), the network's \(matrix.rows)×\(matrix.columns)")
                    }
                    return stored
                }
            }
        }
        let parameters = try arrays(like: trainer.energy.parameters, prefix: "", "parameters")
        var slots: [String: [[Matrix<Float>]]] = [:]
        let slotNames = Set(self.arrays.keys.filter { $0.hasPrefix("optimizer/") }.compactMap { $0.split(separator: "/").dropFirst().first.map(String.init) })
        for slot in slotNames { slots[slot] = try arrays(like: trainer.energy.parameters, prefix: "optimizer/\(slot)/", "optimizer state") }
        var particles: [Matrix<Float>]?
        if let expected = trainer.particles {
            particles = try expected.indices.map { k in
                guard let stored = self.arrays["particles/\(k + 1)"], stored.rows == expected[k].rows, stored.columns == expected[k].columns else {
                    throw CheckpointError(file: file, reason: "expected persistent particles for \(expected[k].rows) examples of \(expected[k].columns) units in layer \(k + 1)")
                }
                return stored
            }
        }
        trainer.energy.parameters = parameters
        trainer.optimizer.memory = OptimizerMemory(steps: metadata.optimizerSteps, slots: slots)
        trainer.generator = metadata.generator
        trainer.epochsTrained = metadata.epoch
        trainer.particles = particles
    }

    /// The `.npz` bytes.
    public func npz() throws -> Data {
        let archive = try Archive(accessMode: .create)
        func add(_ name: String, _ data: Data) throws {
            try archive.addEntry(with: name, type: .file, uncompressedSize: Int64(data.count), modificationDate: Date(timeIntervalSince1970: 0),
                                 provider: { position, size in data.subdata(in: Int(position)..<Int(position) + size) })
        }
        for (name, matrix) in arrays.sorted(by: { $0.key < $1.key }) { try add("\(name).npy", NPY.encode(matrix, shape: shapes[name])) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try add("metadata.json", try encoder.encode(metadata))
        guard let data = archive.data else { throw CheckpointError(file: "(memory)", reason: "the archive was not written") }
        return data
    }

    /// Reads a checkpoint file written from ``npz()``. Every entry's CRC-32 is checked. A checkpoint of
    /// format 1 (an earlier version of EqProp) has its run converted to today's run file.
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
                let checksum = try archive.extract(entry) { content.append($0) }
                // ZIPFoundation computes the checksum of what it reads but leaves the comparison to the caller.
                guard checksum == entry.checksum else {
                    throw CheckpointError(file: file, reason: "entry \(entry.path) fails its CRC-32 check (stored \(entry.checksum), read \(checksum)): the file is corrupted")
                }
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
        guard (1...Self.format).contains(metadata.format) else {
            throw CheckpointError(file: file, reason: "checkpoint format \(metadata.format); this version of EqProp reads formats 1 and 2")
        }
        do {
            if metadata.format == 1, let run = metadata.run {
                let converted = LegacyRunFile.converted(try RunFile.settings(yaml: run, file: "\(file) (metadata.json, run)", acceptingLegacyKeys: true))
                metadata.run = try RunFile(settings: converted).yaml
                metadata.format = Self.format
            }
            _ = try metadata.run.map { try RunFile(yaml: $0, file: "\(file) (metadata.json, run)") }
        } catch {
            throw CheckpointError(file: file, reason: "\(error)")
        }
        var arrays: [String: Matrix<Float>] = [:]
        for (name, bytes) in entries where name.hasSuffix(".npy") {
            let array = String(name.dropLast(".npy".count))
            do {
                arrays[array] = try NPY.decode(bytes, file: "\(file)[\(array)]")
            } catch {
                throw CheckpointError(file: file, reason: "\(error)")
            }
        }
        self.arrays = arrays
    }
}

/// A checkpoint that cannot be used, and why.
public struct CheckpointError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var reason: String

    public var description: String { "\(file): checkpoint refused: \(reason)" }
}

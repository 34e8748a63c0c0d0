import Crypto
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The image-classification data sets EqProp knows, with their canonical files and checksums.
public enum DatasetName: String, CaseIterable, Sendable, Codable {
    case mnist
    case fashionMNIST = "fashion-mnist"
    /// The binary version of CIFAR-10 (``CIFAR10``), downloaded as one archive and extracted.
    case cifar10 = "cifar-10"

    /// The IDX files of MNIST and Fashion-MNIST, in the order train images, train labels, test
    /// images, test labels.
    public static let idxFileNames = [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
    ]

    /// The files a data set is read from.
    public var files: [String] {
        self == .cifar10 ? CIFAR10.files : Self.idxFileNames
    }

    /// SHA-256 of each file's decompressed content (the `.gz` bytes may be recompressed).
    public var decompressedSHA256: [String: String] {
        switch self {
        case .mnist:
            return [
                "train-images-idx3-ubyte.gz": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                "train-labels-idx1-ubyte.gz": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
                "t10k-images-idx3-ubyte.gz": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                "t10k-labels-idx1-ubyte.gz": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            ]
        case .fashionMNIST:
            return [
                "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
                "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
                "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            ]
        case .cifar10:
            // The archive's MD5 is checked instead (CIFAR10.archiveMD5).
            return [:]
        }
    }

    /// Where the canonical files are published, tried in order.
    public var mirrors: [URL] {
        switch self {
        case .mnist:
            return [URL(string: "https://ossci-datasets.s3.amazonaws.com/mnist/")!,
                    URL(string: "https://storage.googleapis.com/cvdf-datasets/mnist/")!]
        case .fashionMNIST:
            return [URL(string: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/")!]
        case .cifar10:
            return CIFAR10.mirrors
        }
    }
}

/// A train/test split of a data set.
public struct DatasetSplits: Sendable {
    public var train: LabeledImages
    public var test: LabeledImages
}

/// Finds, downloads and reads the data sets under one data directory.
///
/// Files are looked for as `<directory>/<name>/<file>` and `<directory>/<file>`, gzip-compressed
/// or with the `.gz` dropped. The directory comes from `--data-dir`, else the `EQPROP_DATA`
/// environment variable, else `~/.cache/eqprop/data`.
public struct DataDirectory: Sendable {
    public var url: URL

    public init(url: URL) { self.url = url }

    /// The directory given by `flag`, else `EQPROP_DATA`, else `~/.cache/eqprop/data`.
    public static func resolve(flag: String?, environment: [String: String] = ProcessInfo.processInfo.environment) -> DataDirectory {
        if let flag { return DataDirectory(url: URL(fileURLWithPath: flag)) }
        if let variable = environment["EQPROP_DATA"], !variable.isEmpty { return DataDirectory(url: URL(fileURLWithPath: variable)) }
        let home = environment["HOME"].map { URL(fileURLWithPath: $0) } ?? FileManager.default.homeDirectoryForCurrentUser
        return DataDirectory(url: home.appendingPathComponent(".cache/eqprop/data"))
    }

    /// The candidate locations of `file` of `dataset`, in search order: an IDX file gzipped or
    /// not, a CIFAR-10 batch file also in the archive's own folder `cifar-10-batches-bin`.
    public func candidates(for file: String, of dataset: DatasetName) -> [URL] {
        let folder = url.appendingPathComponent(dataset.rawValue)
        if dataset == .cifar10 {
            return [folder, folder.appendingPathComponent(CIFAR10.archiveFolder), url.appendingPathComponent(CIFAR10.archiveFolder)]
                .map { $0.appendingPathComponent(file) }
        }
        let raw = String(file.dropLast(3))
        return [folder.appendingPathComponent(file), folder.appendingPathComponent(raw),
                url.appendingPathComponent(file), url.appendingPathComponent(raw)]
    }

    /// Reads the train and test splits; when files are missing and `download` is set, fetches them
    /// first (checksums verified, written atomically).
    public func load(_ dataset: DatasetName, download: Bool = true) throws -> DatasetSplits {
        var located = try locate(dataset)
        if located.contains(where: { $0 == nil }) {
            let missing = zip(dataset.files, located).filter { $0.1 == nil }.map(\.0)
            var failure: String? = "not downloading: offline"
            if download {
                do {
                    try fetch(missing, of: dataset)
                    failure = nil
                } catch {
                    failure = "\(error)"
                }
            }
            located = try locate(dataset)
            if located.contains(where: { $0 == nil }) {
                throw DatasetError.missingFiles(
                    zip(dataset.files, located).filter { $0.1 == nil }.map { "\(dataset.rawValue)/\($0.0)" },
                    searched: [url.appendingPathComponent(dataset.rawValue).path, url.path], downloadFailure: failure)
            }
        }
        let files = located.map { $0! }
        if dataset == .cifar10 {
            let batches = try files.map { try CIFAR10.images(parsing: LabeledImages.read($0), file: $0.path) }
            let training = batches.dropLast()
            return DatasetSplits(train: LabeledImages(pixels: training.flatMap(\.pixels), labels: training.flatMap(\.labels),
                                                      pixelsPerImage: CIFAR10.pixelsPerImage, classCount: 10),
                                 test: batches.last!)
        }
        return DatasetSplits(train: try LabeledImages(imagesFile: files[0], labelsFile: files[1]),
                             test: try LabeledImages(imagesFile: files[2], labelsFile: files[3]))
    }

    private func locate(_ dataset: DatasetName) throws -> [URL?] {
        dataset.files.map { file in
            candidates(for: file, of: dataset).first { FileManager.default.fileExists(atPath: $0.path) }
        }
    }

    /// Downloads `files` of `dataset` into `<directory>/<name>/`, from `mirrors` (default: the
    /// canonical ones) in turn. Each file arrives in `<file>.partial` (resumed if an earlier
    /// download stopped), its checksum is verified, and only then is it renamed into place; a file
    /// that fails the check is deleted and never used. CIFAR-10's files come from its archive,
    /// downloaded the same way, checked against `archiveMD5` (default: the published one),
    /// extracted, then deleted.
    public func fetch(_ files: [String], of dataset: DatasetName, mirrors: [URL]? = nil, archiveMD5: String = CIFAR10.archiveMD5,
                      log: (String) -> Void = { _ in }) throws {
        let folder = url.appendingPathComponent(dataset.rawValue)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw DatasetError.unreadable(file: folder.path, reason: "cannot create the data directory: \(error.localizedDescription)")
        }
        if dataset == .cifar10 {
            guard !files.isEmpty else { return }
            try download(CIFAR10.archive, into: folder, from: mirrors ?? dataset.mirrors, log: log) { data, source in
                try CIFAR10.extract(data, into: folder, source: source, expectedMD5: archiveMD5)
            }
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(CIFAR10.archive))
            return
        }
        for file in files {
            try download(file, into: folder, from: mirrors ?? dataset.mirrors, log: log) { data, source in
                try verify(data, file: file, of: dataset, source: source)
            }
        }
    }

    /// Downloads `file` from the first of `mirrors` that serves it whole and passes `check`, into
    /// `<folder>/<file>`; a download that fails `check` is deleted.
    private func download(_ file: String, into folder: URL, from mirrors: [URL], log: (String) -> Void,
                          check: (Data, String) throws -> Void) throws {
        var lastError: Error = DatasetError.unreadable(file: file, reason: "no mirror")
        var done = false
        for mirror in mirrors where !done {
            let source = mirror.appendingPathComponent(file)
            let download = ResumableDownload(source: source, destination: folder.appendingPathComponent(file))
            do {
                log("downloading \(source.absoluteString)")
                let data = try download.run()
                do {
                    try check(data, source.absoluteString)
                } catch {
                    try? FileManager.default.removeItem(at: download.partial)
                    throw error
                }
                guard rename(download.partial.path, download.destination.path) == 0 else {
                    throw DatasetError.unreadable(file: download.destination.path, reason: "cannot move the verified download into place")
                }
                done = true
            } catch {
                lastError = error
            }
        }
        if !done { throw lastError }
    }

    /// Checks the SHA-256 of `data`'s decompressed content against the catalogue.
    public func verify(_ data: Data, file: String, of dataset: DatasetName, source: String) throws {
        let content = Gzip.isCompressed(data) ? try Gzip.decompress(data, file: source) : data
        let actual = SHA256.hash(data: content).map { String(format: "%02x", $0) }.joined()
        let expected = dataset.decompressedSHA256[file] ?? ""
        guard actual == expected else {
            throw DatasetError.checksumMismatch(file: source, algorithm: "SHA-256 of the decompressed content", expected: expected, actual: actual)
        }
    }
}

import ArgumentParser
import Datasets
import Foundation

/// `eqprop data …`: the data sets on disk.
struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data", abstract: "Download and check the data sets.", subcommands: [Download.self])

    struct Download: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fetch a data set's canonical files, verify their checksums and move them into the data folder.",
            discussion: """
                Files already present and intact are kept. A download arrives in FILE.partial and resumes from there if it \
                was interrupted; a file whose checksum does not match is deleted and reported. MNIST and Fashion-MNIST: each \
                file's decompressed SHA-256. CIFAR-10: the binary archive (162 MB) and its published MD5, then its six batch \
                files are extracted and the archive deleted.
                """)

        @Argument(help: "mnist, fashion-mnist or cifar-10.") var dataset: DatasetName

        @Option(help: ArgumentHelp("Folder holding the data sets (default: $EQPROP_DATA, else ~/.cache/eqprop/data).", valueName: "dir"))
        var dataDir: String?

        @Option(help: ArgumentHelp("Fetch from this base URL (http, https or file) instead of the canonical mirrors (repeatable).", valueName: "url"))
        var mirror: [String] = []

        @Option(help: ArgumentHelp("cifar-10: the MD5 the archive must have, for a mirror serving a repacked archive (default: the published \(CIFAR10.archiveMD5)).", valueName: "hex"))
        var archiveMd5: String?

        func run() throws {
            let mirrors = try mirror.map { text -> URL in
                guard let url = URL(string: text.hasSuffix("/") ? text : text + "/"), ["http", "https", "file"].contains(url.scheme) else {
                    throw ValidationError("--mirror: expected an http://, https:// or file:// URL, got '\(text)'")
                }
                return url
            }
            if let archiveMd5, dataset != .cifar10 {
                throw ValidationError("--archive-md5: \(dataset.rawValue) has no archive; its files are checked by their own SHA-256 (\(archiveMd5) given)")
            }
            if let archiveMd5, archiveMd5.count != 32 || !archiveMd5.allSatisfy(\.isHexDigit) {
                throw ValidationError("--archive-md5: expected 32 hexadecimal digits, got '\(archiveMd5)'")
            }
            let directory = DataDirectory.resolve(flag: dataDir)
            let folder = directory.url.appendingPathComponent(dataset.rawValue)
            var missing: [String] = []
            for file in dataset.files {
                let path = folder.appendingPathComponent(file)
                guard let data = FileManager.default.contents(atPath: path.path) else {
                    missing.append(file)
                    continue
                }
                if dataset == .cifar10, let images = try? CIFAR10.images(parsing: data, file: path.path) {
                    print("\(path.path): present, \(images.count) records")
                } else if dataset != .cifar10, (try? directory.verify(data, file: file, of: dataset, source: path.path)) != nil {
                    print("\(path.path): present, checksum verified")
                } else {
                    missing.append(file)
                }
            }
            try directory.fetch(missing, of: dataset, mirrors: mirrors.isEmpty ? nil : mirrors, archiveMD5: archiveMd5 ?? CIFAR10.archiveMD5) { print($0) }
            let verified = dataset == .cifar10 ? "extracted from the archive, its MD5 verified" : "downloaded, checksum verified"
            for file in missing { print("\(folder.appendingPathComponent(file).path): \(verified)") }
        }
    }
}

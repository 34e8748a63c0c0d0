// The loaders that read untrusted bytes — IDX/gzip data files, YAML run files and .npz
// checkpoints — under libFuzzer. Every input must end in a value or a clear error: a crash, a
// trap or a hang is a bug.
//
// Fuzzing build (libFuzzer supplies `main`), see the README:
//   swift build -c release --product eqprop-fuzz --scratch-path .build-fuzz \
//     -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING
//   EQPROP_FUZZ=idx .build-fuzz/release/eqprop-fuzz -runs=1000000 corpus/idx
// Ordinary build: `eqprop-fuzz idx|yaml|npz FILE…` runs each file through the same loader
// (to replay a corpus or a crashing input).
import Datasets
import Foundation
import TrainingRuns

/// Where the npz target puts each input.
let scratchFile = URL(fileURLWithPath: FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory())
    .appendingPathComponent("eqprop-fuzz-\(getpid()).npz")

/// Runs one input through the loader `target` names; errors are the expected outcome for most inputs.
func load(_ data: Data, target: String) {
    switch target {
    case "idx":
        // The first byte picks the number of axes the reader expects (labels 1, images 3).
        _ = try? IDXArray(parsing: data.dropFirst(), expectingDimensions: data.first.map { Int($0 % 4) + 1 } ?? 1, file: "fuzz")
    case "yaml":
        _ = try? RunFile(yaml: String(decoding: data, as: UTF8.self), file: "fuzz.yaml")
    case "npz":
        // Checkpoints are read from files (see `Checkpoint.init(contentsOf:)`).
        guard (try? data.write(to: scratchFile)) != nil else { fatalError("cannot write \(scratchFile.path)") }
        _ = try? Checkpoint(contentsOf: scratchFile)
    default:
        FileHandle.standardError.write(Data("eqprop-fuzz: unknown target '\(target)'; expected idx, yaml or npz\n".utf8))
        exit(2)
    }
}

#if FUZZING
/// libFuzzer's driver (`-sanitize=fuzzer` links it); SwiftPM names the executable's entry point
/// `Fuzzing_main`, so that is where the driver starts.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("Fuzzing_main")
func fuzzingMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc, argv = argv
    return runFuzzerDriver(&argc, &argv) { bytes, count in
        let target = ProcessInfo.processInfo.environment["EQPROP_FUZZ"] ?? ""
        load(bytes.map { Data(bytes: $0, count: count) } ?? Data(), target: target)
        return 0
    }
}
#else
@main
enum Replay {
    static func main() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let target = arguments.first, arguments.count >= 2 else {
            FileHandle.standardError.write(Data("usage: eqprop-fuzz idx|yaml|npz FILE_OR_FOLDER…\n".utf8))
            exit(2)
        }
        var inputs = 0
        for path in arguments.dropFirst() {
            var isFolder: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
            let files = isFolder.boolValue ? ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).map { "\(path)/\($0)" } : [path]
            for file in files {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                load(data, target: target)
                inputs += 1
            }
        }
        print("eqprop-fuzz: \(inputs) inputs through the \(target) loader, no crash")
    }
}
#endif

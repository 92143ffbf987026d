import Foundation

/// Runs a command of the test environment (compilers, the repository's scripts) and captures its output.
public enum Shell {
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, output)
    }

    /// A script of scripts/ run with `--check`: whether a generated file matches its sources.
    public static func check(_ script: String) throws -> (status: Int32, output: String) {
        try run(["bash", root.appendingPathComponent("scripts/\(script)").path, "--check"])
    }
}

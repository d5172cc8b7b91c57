// Stand-in, in the main Cornerstone bundle only, for the WebAssembly codecs' loaders (JPEG, JPEG-LS, JPEG 2000,
// HTJ2K, JPEG XL). The studio serves uncompressed DICOM copies, which assets/cornerstone.js decodes in the page;
// a compressed frame goes to the library's decoding worker, whose own bundle keeps every codec.
export default function codecNotInThisBundle() {
  throw new Error("compressed DICOM frames are decoded in decodeImageFrameWorker.js, not in the page");
}

// Stand-in for xmlbuilder2, which vtk.js names only to read and write VTK XML polydata (Cornerstone's mesh loader,
// for 3D surfaces). The viewer draws stack images only; leaving xmlbuilder2 out, with the DOM and YAML libraries it
// brings, takes a tenth off the bundle the browser must parse before the first frame. Calling it says why.
export function create() {
  throw new Error("xmlbuilder2 is not in the viewer's bundle: it reads no VTK XML files");
}

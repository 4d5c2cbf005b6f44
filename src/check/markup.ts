// What the pages of the tool share to write HTML and numbers: the history page
// here, and the bench report, which imports it (this folder imports nothing
// from outside itself: it is published on its own as create-consensus/check).

/** Text made safe for HTML content and attribute values (uses nothing outside itself: the history page's script runs it too). */
export function escape(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c as "&"],
  );
}

/** Thousands separators in the integer part, the same on every machine (unlike toLocaleString). */
export function group(text: string): string {
  return text.replace(/^-?\d+/, (integer) => integer.replace(/\B(?=(\d{3})+$)/g, ","));
}

/** An SVG coordinate: a tenth of a pixel is as fine as a screen shows, and keeps pages small. */
export function coord(value: number): string {
  return value.toFixed(1);
}

/** A self-contained HTML page: its `title` (escaped here), its `style`, and the markup of its body. */
export function page(title: string, style: string, body: readonly string[]): string {
  return [
    "<!doctype html>",
    '<html lang="en">',
    "<head>",
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escape(title)}</title>`,
    `<style>${style}</style>`,
    "</head>",
    "<body>",
    ...body,
    "</body>",
    "</html>",
    "",
  ].join("\n");
}

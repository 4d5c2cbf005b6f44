import pc from "picocolors";

/** Colours on a TTY only, and never with NO_COLOR (https://no-color.org). */
function colors(stream: NodeJS.WriteStream): ReturnType<typeof pc.createColors> {
  return pc.createColors(Boolean(stream.isTTY) && !process.env.NO_COLOR);
}

export const out = colors(process.stdout);
export const err = colors(process.stderr);

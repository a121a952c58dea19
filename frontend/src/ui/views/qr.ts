/**
 * QR codes for links a phone should open (the swipe page with its session token).
 */
import qrcode from "qrcode-generator";

/** The modules of a QR code for `text` (error correction M, the smallest version that fits). */
export function qrModules(text: string): boolean[][] {
  const qr = qrcode(0, "M");
  qr.addData(text, "Byte");
  qr.make();
  const n = qr.getModuleCount();
  return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => qr.isDark(r, c)));
}

/** Draw `text`'s QR code into `canvas`: dark on white with the standard 4-module quiet zone. */
export function drawQr(canvas: HTMLCanvasElement, text: string, cellPx = 5): void {
  const modules = qrModules(text);
  const n = modules.length;
  const quiet = 4;
  const side = (n + 2 * quiet) * cellPx;
  canvas.width = side;
  canvas.height = side;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, side, side);
  ctx.fillStyle = "#000000";
  modules.forEach((row, r) =>
    row.forEach((dark, c) => {
      if (dark) ctx.fillRect((c + quiet) * cellPx, (r + quiet) * cellPx, cellPx, cellPx);
    }),
  );
}

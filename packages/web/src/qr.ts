/**
 * A QR code drawn on a <canvas> in the page (the `qrcode` package's browser build): the join
 * string or TOTP URI never leaves the browser for it, and a canvas needs no data: URL, which the
 * Content-Security-Policy would refuse.
 */
import QRCode from 'qrcode'
import { h } from './dom.ts'

export function qrCanvas(text: string, label: string): HTMLCanvasElement {
  const canvas = h('canvas', { role: 'img', 'aria-label': label, class: 'qr' })
  void QRCode.toCanvas(canvas, text, { margin: 2, scale: 5, errorCorrectionLevel: 'M' })
  return canvas
}

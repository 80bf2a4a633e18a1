/**
 * The browser side of the web test: Debian's chromium through playwright-core, screenshots into
 * one directory, and reading a QR code off a page's <canvas> with jsQR.
 */
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import jsqr from 'jsqr'
import { type Browser, chromium, type Page } from 'playwright-core'

/** jsQR is CommonJS: Node's loader hands its module.exports (the function) over as the default. */
const jsQR = jsqr as unknown as (
  data: Uint8ClampedArray,
  width: number,
  height: number,
) => { data: string } | null

/** Debian's package (scripts/lib/toolchain.sh installs it), never a downloaded browser. */
export const CHROMIUM = '/usr/bin/chromium'

export function haveChromium(): boolean {
  return existsSync(CHROMIUM)
}

export function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // chromium refuses to start as root with its sandbox on; CI runs the suite as root
    args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
  })
}

/** Where screenshots go: MESHLAN_WEB_SCREENSHOTS (e.g. docs/screenshots), else a new temp dir. */
export async function screenshotDir(): Promise<string> {
  const dir = process.env.MESHLAN_WEB_SCREENSHOTS ?? (await mkdtemp(join(tmpdir(), 'meshlan-web-shots-')))
  await mkdir(dir, { recursive: true })
  return dir
}

export async function shot(page: Page, dir: string, name: string): Promise<void> {
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true })
}

/** The text of the QR code drawn on the canvas `selector`, read from its pixels. */
export async function readQr(page: Page, selector: string): Promise<string | null> {
  // the pixels as one base64 string: an array of ~600 000 numbers is slow through the protocol
  const img = await page.$eval(selector, (c) => {
    const canvas = c as HTMLCanvasElement
    const ctx = canvas.getContext('2d') as CanvasRenderingContext2D
    const d = ctx.getImageData(0, 0, canvas.width, canvas.height)
    let bin = ''
    for (let i = 0; i < d.data.length; i += 0x8000)
      bin += String.fromCharCode(...d.data.subarray(i, i + 0x8000))
    return { w: d.width, h: d.height, rgba: btoa(bin) }
  })
  return jsQR(new Uint8ClampedArray(Buffer.from(img.rgba, 'base64')), img.w, img.h)?.data ?? null
}

/** Form controls on the page without an accessible name (a <label>, aria-label or aria-labelledby). */
export function unlabelled(page: Page): Promise<string[]> {
  return page.$$eval('input, select, textarea, button', (els) =>
    els
      .filter((e) => {
        const c = e as HTMLInputElement
        if (c.type === 'hidden') return false
        const named =
          (c.labels?.length ?? 0) > 0 || c.getAttribute('aria-label') || c.getAttribute('aria-labelledby')
        return !named && (c.tagName !== 'BUTTON' || (c.textContent ?? '').trim() === '')
      })
      .map((e) => e.outerHTML.slice(0, 80)),
  )
}

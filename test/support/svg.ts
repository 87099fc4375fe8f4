/**
 * SVG checks with a real parser: the browser's (Debian chromium through playwright-core). `parseSvg`
 * returns the parser's error, if any, and how many elements match each selector; `renderSvg` writes
 * a PNG for a human to look at.
 */
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The slice of the browser's DOM the check uses (the project compiles without the DOM library). */
interface BrowserDom {
  DOMParser: new () => {
    parseFromString(
      text: string,
      type: string,
    ): {
      documentElement: { localName: string };
      querySelector(s: string): { textContent: string | null } | null;
      querySelectorAll(s: string): { length: number };
    };
  };
}

export class SvgChecker {
  private constructor(private readonly browser: Browser) {}

  static async launch(): Promise<SvgChecker> {
    return new SvgChecker(await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] }));
  }

  /** Parses `svg` as XML (image/svg+xml); counts the elements each CSS selector matches. */
  async parse(svg: string, selectors: readonly string[]): Promise<{ error: string | null; root: string; counts: Record<string, number> }> {
    const page = await this.browser.newPage();
    try {
      return await page.evaluate(
        ({ svg, selectors }) => {
          const dom = globalThis as unknown as BrowserDom;
          const doc = new dom.DOMParser().parseFromString(svg, 'image/svg+xml');
          const error = doc.querySelector('parsererror');
          const counts: Record<string, number> = {};
          for (const s of selectors) counts[s] = doc.querySelectorAll(s).length;
          return { error: error ? (error.textContent ?? 'parse error') : null, root: doc.documentElement.localName, counts };
        },
        { svg, selectors: [...selectors] },
      );
    } finally {
      await page.close();
    }
  }

  /** A PNG of the SVG as the browser draws it. */
  async render(svg: string, path: string): Promise<void> {
    const page = await this.browser.newPage();
    try {
      await page.setContent(`<body style="margin:0;background:#fff">${svg.replace(/^<\?xml[^>]*>/, '')}</body>`);
      await page.locator('svg').screenshot({ path });
    } finally {
      await page.close();
    }
  }

  close(): Promise<void> {
    return this.browser.close();
  }
}

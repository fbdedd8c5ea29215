// The page's language for scripts that get no page data (the API client, Resume): the
// <html lang> the server rendered the page in, so their words match the page's.
import { DEFAULT_UI_LANG, langOf, translator, type Translator } from '../common/i18n/index.ts';

export function pageTranslator(): Translator {
  return translator(langOf(document.documentElement.lang) ?? DEFAULT_UI_LANG);
}

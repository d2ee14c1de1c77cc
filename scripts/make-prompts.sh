#!/usr/bin/env bash
# make-prompts.sh — regenerates Herald's shipped synthetic prompts under prompts/.
#
# Usage:
#   scripts/make-prompts.sh            # every language, the language menu and welcome.flac
#   scripts/make-prompts.sh de fr      # only these languages (no top-level prompts)
#   PROMPTS_OUT=/tmp/p scripts/make-prompts.sh   # write somewhere else (e.g. to diff)
#
# Needs: espeak-ng, sox, flac (Debian/Ubuntu: `apt-get install espeak-ng sox flac`).
#
# Output: 16 kHz, mono, 16-bit FLAC (Herald resamples once at load: 8 kHz for G.711,
# 16 kHz for G.722), trimmed of the synthesiser's leading/trailing silence, padded with
# 150 ms before and 300 ms after, peak-normalised to -3 dBFS (active speech around -19 dBFS),
# and rounded to 14-bit precision (the two low bits zero): 14 bits is the linear input
# resolution of both G.711 and G.722, so no codec Herald serves loses anything, and FLAC
# stores the zero bits for free (about 20 % smaller; the whole set stays near 3.5 MB):
#   prompts/<lang>/<name>.flac   for lang in en de fr es it nl pl and the eight names below
#   prompts/<lang>/prompts.txt   the exact wording, "name<TAB>text", for a studio session
#   prompts/language-menu.flac   each language's option in its own voice, one after another
#   prompts/welcome.flac         the language-neutral default greeting (English, the server's
#                                media.greeting before an IVR application picks a language)
#
# The result is committed; serving never runs this. Running it twice gives byte-identical
# files with the same espeak-ng/sox/flac versions (sox runs without dither, flac without
# timestamps), so `git status` after a rerun shows only real changes.
#
# The shipped prompts serve the recording-disclosure IVR application:
#   welcome, disclosure, recording-notice (no opt-out offered), optout-confirmed, recording-continues, connecting, no-agents,
#   invalid-choice, goodbye
set -euo pipefail

missing=()
for tool in espeak-ng sox flac; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if ((${#missing[@]})); then
  echo "make-prompts.sh: missing tool(s): ${missing[*]}" >&2
  echo "  install with: apt-get install espeak-ng sox flac" >&2
  exit 1
fi

repo="$(cd "$(dirname "$0")/.." && pwd)"
out="${PROMPTS_OUT:-$repo/prompts}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

NAMES=(welcome disclosure recording-notice optout-confirmed recording-continues connecting no-agents invalid-choice goodbye)
ALL_LANGS=(en de fr es it nl pl)
RATE=16000
SPEED=160 # espeak-ng words per minute (default 175): a little slower for the telephone

# espeak-ng voice per language tag.
voice() {
  case "$1" in
    en) echo en-gb ;;
    de) echo de ;;
    fr) echo fr-fr ;;
    es) echo es ;;
    it) echo it ;;
    nl) echo nl ;;
    pl) echo pl ;;
    *) echo "make-prompts.sh: no voice for language '$1'" >&2; return 1 ;;
  esac
}

# text LANG NAME: the wording of one prompt (polite form where the language has one).
text() {
  case "$1/$2" in
    en/welcome) echo "Thank you for calling." ;;
    en/disclosure) echo "This call may be recorded for quality and training purposes. If you do not want this call to be recorded, please press 9 now." ;;
    en/recording-notice) echo "Please note that this call is recorded for regulatory and quality purposes." ;;
    en/optout-confirmed) echo "Understood. This call will not be recorded." ;;
    en/recording-continues) echo "Thank you. This call will be recorded." ;;
    en/connecting) echo "Please hold while we connect you to an agent." ;;
    en/no-agents) echo "Sorry, all our agents are busy at the moment. Please call again later. Goodbye." ;;
    en/invalid-choice) echo "Sorry, that is not a valid choice." ;;
    en/goodbye) echo "Goodbye." ;;

    de/welcome) echo "Vielen Dank für Ihren Anruf." ;;
    de/disclosure) echo "Zur Qualitätssicherung und zu Schulungszwecken kann dieses Gespräch aufgezeichnet werden. Wenn Sie nicht möchten, dass dieses Gespräch aufgezeichnet wird, drücken Sie jetzt bitte die 9." ;;
    de/recording-notice) echo "Bitte beachten Sie, dass dieses Gespräch aus regulatorischen Gründen und zur Qualitätssicherung aufgezeichnet wird." ;;
    de/optout-confirmed) echo "Verstanden. Dieses Gespräch wird nicht aufgezeichnet." ;;
    de/recording-continues) echo "Vielen Dank. Dieses Gespräch wird aufgezeichnet." ;;
    de/connecting) echo "Bitte bleiben Sie in der Leitung. Wir verbinden Sie mit unserem Kundenservice." ;;
    de/no-agents) echo "Leider sind zurzeit alle unsere Mitarbeiterinnen und Mitarbeiter im Gespräch. Bitte rufen Sie später noch einmal an. Auf Wiederhören." ;;
    de/invalid-choice) echo "Diese Auswahl ist leider nicht gültig." ;;
    de/goodbye) echo "Auf Wiederhören." ;;

    fr/welcome) echo "Merci de votre appel." ;;
    fr/disclosure) echo "Cet appel est susceptible d'être enregistré à des fins de qualité et de formation. Si vous ne souhaitez pas que cet appel soit enregistré, appuyez maintenant sur la touche 9." ;;
    fr/recording-notice) echo "Veuillez noter que cet appel est enregistré pour des raisons réglementaires et de qualité." ;;
    fr/optout-confirmed) echo "C'est noté. Cet appel ne sera pas enregistré." ;;
    fr/recording-continues) echo "Merci. Cet appel sera enregistré." ;;
    fr/connecting) echo "Veuillez patienter, nous vous mettons en relation avec un conseiller." ;;
    fr/no-agents) echo "Nous sommes désolés, tous nos conseillers sont actuellement occupés. Nous vous invitons à rappeler ultérieurement. Au revoir." ;;
    fr/invalid-choice) echo "Désolé, ce choix n'est pas valide." ;;
    fr/goodbye) echo "Au revoir." ;;

    es/welcome) echo "Gracias por su llamada." ;;
    es/disclosure) echo "Le informamos de que esta llamada puede ser grabada con fines de calidad y formación. Si no desea que esta llamada sea grabada, pulse 9 ahora." ;;
    es/recording-notice) echo "Le informamos de que esta llamada se graba por motivos regulatorios y de calidad." ;;
    es/optout-confirmed) echo "De acuerdo. Esta llamada no será grabada." ;;
    es/recording-continues) echo "Gracias. Esta llamada será grabada." ;;
    es/connecting) echo "Por favor, espere un momento mientras le pasamos con uno de nuestros agentes." ;;
    es/no-agents) echo "Lo sentimos, en este momento todos nuestros agentes están ocupados. Por favor, vuelva a llamar más tarde. Adiós." ;;
    es/invalid-choice) echo "Lo sentimos, esa opción no es válida." ;;
    es/goodbye) echo "Adiós." ;;

    it/welcome) echo "Grazie per aver chiamato." ;;
    it/disclosure) echo "La informiamo che questa chiamata potrebbe essere registrata per finalità di controllo qualità e formazione. Se non desidera che la chiamata venga registrata, prema ora il tasto 9." ;;
    it/recording-notice) echo "La informiamo che questa chiamata viene registrata per motivi normativi e di qualità." ;;
    it/optout-confirmed) echo "D'accordo. Questa chiamata non verrà registrata." ;;
    it/recording-continues) echo "Grazie. Questa chiamata verrà registrata." ;;
    it/connecting) echo "La preghiamo di restare in linea, la stiamo mettendo in contatto con un operatore." ;;
    it/no-agents) echo "Siamo spiacenti, al momento tutti i nostri operatori sono occupati. La preghiamo di richiamare più tardi. Arrivederci." ;;
    it/invalid-choice) echo "Siamo spiacenti, la scelta non è valida." ;;
    it/goodbye) echo "Arrivederci." ;;

    nl/welcome) echo "Bedankt voor uw telefoontje." ;;
    nl/disclosure) echo "Dit gesprek kan worden opgenomen voor kwaliteitsbewaking en training. Wilt u niet dat dit gesprek wordt opgenomen, toets dan nu 9." ;;
    nl/recording-notice) echo "Let op: dit gesprek wordt opgenomen om wettelijke redenen en voor kwaliteitsbewaking." ;;
    nl/optout-confirmed) echo "Begrepen. Dit gesprek wordt niet opgenomen." ;;
    nl/recording-continues) echo "Dank u wel. Dit gesprek wordt opgenomen." ;;
    nl/connecting) echo "Een ogenblik geduld alstublieft. We verbinden u door met een medewerker." ;;
    nl/no-agents) echo "Helaas zijn al onze medewerkers op dit moment in gesprek. Probeert u het later nog eens. Tot ziens." ;;
    nl/invalid-choice) echo "Helaas, dat is geen geldige keuze." ;;
    nl/goodbye) echo "Tot ziens." ;;

    pl/welcome) echo "Dziękujemy za telefon." ;;
    pl/disclosure) echo "Ta rozmowa może być nagrywana w celu zapewnienia jakości obsługi oraz w celach szkoleniowych. Jeżeli nie chcą Państwo, aby rozmowa była nagrywana, prosimy teraz nacisnąć 9." ;;
    pl/recording-notice) echo "Informujemy, że ta rozmowa jest nagrywana ze względów regulacyjnych i w celu zapewnienia jakości." ;;
    pl/optout-confirmed) echo "Rozumiemy. Ta rozmowa nie będzie nagrywana." ;;
    pl/recording-continues) echo "Dziękujemy. Ta rozmowa będzie nagrywana." ;;
    pl/connecting) echo "Prosimy o chwilę cierpliwości, trwa łączenie z konsultantem." ;;
    pl/no-agents) echo "Przepraszamy, wszyscy nasi konsultanci są w tej chwili zajęci. Prosimy zadzwonić później. Do widzenia." ;;
    pl/invalid-choice) echo "Przepraszamy, wybrano nieprawidłową opcję." ;;
    pl/goodbye) echo "Do widzenia." ;;

    *) echo "make-prompts.sh: no text for $1/$2" >&2; return 1 ;;
  esac
}

# The language menu: each option in its own language and voice, in menu order (digit = position).
menu_line() {
  case "$1" in
    en) echo "For English, press 1." ;;
    de) echo "Für Deutsch drücken Sie die 2." ;;
    fr) echo "Pour le français, appuyez sur la touche 3." ;;
    es) echo "Para español, pulse 4." ;;
    it) echo "Per l'italiano, prema il tasto 5." ;;
    nl) echo "Voor Nederlands, toets 6." ;;
    pl) echo "Aby wybrać język polski, prosimy nacisnąć 7." ;;
    *) echo "make-prompts.sh: no menu line for '$1'" >&2; return 1 ;;
  esac
}

# speak VOICE TEXT OUT.wav: synthesise, trim the synthesiser's silence, pad, resample to 16 kHz
# mono, normalise, then round to 14-bit precision (see the header). -D: no dither, so reruns
# are byte-identical; -G: guard against clipping in the resampler.
speak() {
  espeak-ng -v "$1" -s "$SPEED" -w "$tmp/raw.wav" -- "$2"
  sox -D -G "$tmp/raw.wav" -r "$RATE" -c 1 -b 16 -e signed-integer "$tmp/norm.wav" \
    silence 1 0.02 0.2% reverse silence 1 0.02 0.2% reverse \
    pad 0.15 0.3 rate -h "$RATE" gain -n -3
  # Two steps, exact in both: scale by 1/4 and store (rounds to integers), scale by 4.
  sox -D "$tmp/norm.wav" -b 16 "$tmp/q.wav" vol 0.25
  sox -D "$tmp/q.wav" -b 16 "$3" vol 4
}

# encode IN.wav OUT.flac
encode() {
  flac -s -f --best --no-padding -o "$2" "$1"
}

make_lang() { # make_lang LANG
  local lang="$1" v name t
  v="$(voice "$lang")"
  mkdir -p "$out/$lang"
  : >"$tmp/prompts.txt"
  for name in "${NAMES[@]}"; do
    t="$(text "$lang" "$name")"
    printf '%s\t%s\n' "$name" "$t" >>"$tmp/prompts.txt"
    speak "$v" "$t" "$tmp/$lang-$name.wav"
    encode "$tmp/$lang-$name.wav" "$out/$lang/$name.flac"
  done
  cp "$tmp/prompts.txt" "$out/$lang/prompts.txt"
  echo "prompts/$lang: ${#NAMES[@]} prompts ($v)"
}

make_menu() {
  local lang parts=()
  for lang in "${ALL_LANGS[@]}"; do
    speak "$(voice "$lang")" "$(menu_line "$lang")" "$tmp/menu-$lang.wav"
    parts+=("$tmp/menu-$lang.wav")
  done
  sox -D "${parts[@]}" "$tmp/language-menu.wav"
  encode "$tmp/language-menu.wav" "$out/language-menu.flac"
  echo "prompts/language-menu.flac: ${#ALL_LANGS[@]} options"
}

# The server's default greeting (media.greeting = "welcome") before any IVR application runs;
# its text predates the localized prompts and is kept.
WELCOME_DEFAULT="Welcome to Herald. This call is answered by the Herald media server. Each key you press on your phone is noted in the call record."

make_welcome() {
  speak "$(voice en)" "$WELCOME_DEFAULT" "$tmp/welcome.wav"
  encode "$tmp/welcome.wav" "$out/welcome.flac"
  echo "prompts/welcome.flac: language-neutral default (en)"
}

mkdir -p "$out"
if (($#)); then
  for lang in "$@"; do
    voice "$lang" >/dev/null # fail early on an unknown language
  done
  for lang in "$@"; do make_lang "$lang"; done
else
  for lang in "${ALL_LANGS[@]}"; do make_lang "$lang"; done
  make_menu
  make_welcome
fi

"""The console's words in English, Dutch and French: the manual's own terms (Gezinssamenstelling, Integraties -
Desintegraties, hoedanigheidscode, INSZ, Raadplegen...) and the few words around them.

Invariant: every key has a text in every language of ``LANGUAGES`` (a test checks it); a text the catalogue or the
rules produce (a quality code's English label, a diagnostic sentence) is shown as it comes unless this module
knows its translation by that very English text, so a catalogue an operator replaced never gets a wrong label.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "TEXTS", "Words", "code_label", "words"]

LANGUAGES: Mapping[str, str] = {"en": "English", "nl": "Nederlands", "fr": "Français"}
DEFAULT_LANGUAGE = "en"

# key: (English, Dutch, French)
TEXTS: Mapping[str, tuple[str, str, str]] = {
    "console": ("Gateway console", "Gateway-console", "Console de la passerelle"),
    "login": ("Log in", "Aanmelden", "Se connecter"),
    "logout": ("Log out", "Afmelden", "Se déconnecter"),
    "login_intro": (
        "Log in as your institution with its enterprise number and secret.",
        "Meld u aan als uw instelling met haar ondernemingsnummer en geheim.",
        "Connectez-vous au nom de votre institution avec son numéro d'entreprise et son secret.",
    ),
    "enterprise_number": ("Enterprise number", "Ondernemingsnummer", "Numéro d'entreprise"),
    "secret": ("Secret", "Geheim", "Secret"),
    "login_refused": (
        "The enterprise number or the secret is not right, or this institution may not log in.",
        "Het ondernemingsnummer of het geheim klopt niet, of deze instelling mag zich niet aanmelden.",
        "Le numéro d'entreprise ou le secret n'est pas correct, ou cette institution ne peut pas se connecter.",
    ),
    "login_throttled": (
        "Too many failed logins from your address: try again in {seconds} seconds.",
        "Te veel mislukte aanmeldingen vanaf uw adres: probeer opnieuw over {seconds} seconden.",
        "Trop de connexions échouées depuis votre adresse : réessayez dans {seconds} secondes.",
    ),
    "certificate_intro": (
        "Your browser presented a client certificate: if it is registered for your institution, it logs you in.",
        "Uw browser bood een clientcertificaat aan: is het voor uw instelling geregistreerd, dan meldt het u aan.",
        "Votre navigateur a présenté un certificat client : s'il est enregistré pour votre institution, il vous "
        "connecte.",
    ),
    "login_certificate": (
        "Log in with your certificate",
        "Aanmelden met uw certificaat",
        "Se connecter avec votre certificat",
    ),
    "session_ended": (
        "Your session has ended: log in again.",
        "Uw sessie is beëindigd: meld u opnieuw aan.",
        "Votre session a pris fin : reconnectez-vous.",
    ),
    "form_expired": (
        "This form was not sent from your current session (its security token is missing or wrong): "
        "nothing was done. Reload the page and send the form again.",
        "Dit formulier kwam niet uit uw huidige sessie (het beveiligingstoken ontbreekt of klopt niet): "
        "er is niets uitgevoerd. Laad de pagina opnieuw en verstuur het formulier nog eens.",
        "Ce formulaire ne vient pas de votre session actuelle (son jeton de sécurité manque ou est faux) : "
        "rien n'a été fait. Rechargez la page et renvoyez le formulaire.",
    ),
    "cookies_needed": (
        "The console needs its session cookie: allow cookies for this site and load the login page again.",
        "De console heeft haar sessiecookie nodig: sta cookies toe voor deze site en laad de aanmeldpagina opnieuw.",
        "La console a besoin de son cookie de session : autorisez les cookies pour ce site et rechargez la page.",
    ),
    "household": ("Household composition", "Gezinssamenstelling", "Composition de ménage"),
    "household_intro": (
        "The members you add are kept in your session only, never stored by the gateway.",
        "De gezinsleden die u toevoegt, blijven enkel in uw sessie; de gateway bewaart ze niet.",
        "Les membres que vous ajoutez restent dans votre session ; la passerelle ne les enregistre pas.",
    ),
    "household_empty": (
        "The household has no members yet: add them here first.",
        "Het huishouden heeft nog geen leden: voeg ze eerst hier toe.",
        "Le ménage n'a pas encore de membres : ajoutez-les d'abord ici.",
    ),
    "household_full": (
        "The household has {count} members, the most the console keeps in a session.",
        "Het huishouden heeft {count} leden, het maximum dat de console in een sessie bewaart.",
        "Le ménage compte {count} membres, le maximum que la console garde dans une session.",
    ),
    "member_twice": (
        "SSIN {ssin} is already a member of the household.",
        "INSZ {ssin} is al lid van het huishouden.",
        "Le NISS {ssin} fait déjà partie du ménage.",
    ),
    "name_too_long": (
        "A name has at most {count} characters.",
        "Een naam heeft hoogstens {count} tekens.",
        "Un nom compte au plus {count} caractères.",
    ),
    "add_member": ("Add member", "Gezinslid toevoegen", "Ajouter le membre"),
    "remove": ("Remove", "Weglaten", "Retirer"),
    "members": ("Members", "Gezinsleden", "Membres"),
    "ssin": ("SSIN", "INSZ", "NISS"),
    "name": ("Name", "Naam", "Nom"),
    "integrations": (
        "Integrations – Desintegrations",
        "Integraties – Desintegraties",
        "Intégrations – Désintégrations",
    ),
    "start_date": ("Start date", "Begindatum", "Date de début"),
    "end_date": ("End date", "Einddatum", "Date de fin"),
    "period_help": (
        "Only the start date is required. Without an end date, Integrate asks for the quality code's maximum "
        "period, and Desintegrate removes everything from the start date on.",
        "Enkel de begindatum is verplicht. Zonder einddatum vraagt Integreren de maximale duur van de "
        "hoedanigheidscode aan, en verwijdert Desintegreren alles vanaf de begindatum.",
        "Seule la date de début est obligatoire. Sans date de fin, Intégrer demande la durée maximale du code "
        "qualité, et Désintégrer supprime tout à partir de la date de début.",
    ),
    "quality_code": ("Quality code", "Hoedanigheidscode", "Code qualité"),
    "network_only": ("network only", "enkel via het netwerk", "uniquement par le réseau"),
    "integrate": ("Integrate", "Integreren", "Intégrer"),
    "desintegrate": ("Desintegrate", "Desintegreren", "Désintégrer"),
    "tick_members": (
        "Tick the members to integrate or desintegrate.",
        "Selecteer de gezinsleden die u wenst te integreren of te desintegreren.",
        "Cochez les membres à intégrer ou à désintégrer.",
    ),
    "no_member_ticked": (
        "Tick at least one member of the household.",
        "Selecteer minstens één gezinslid.",
        "Cochez au moins un membre du ménage.",
    ),
    "not_a_member": (
        "SSIN {ssin} is not a member of the household.",
        "INSZ {ssin} is geen lid van het huishouden.",
        "Le NISS {ssin} ne fait pas partie du ménage.",
    ),
    "result": ("Result", "Resultaat", "Résultat"),
    "reason": ("Reason", "Reden", "Motif"),
    "periods_after": ("Periods now", "Periodes nu", "Périodes maintenant"),
    "ticket": ("Ticket", "Ticket", "Ticket"),
    "consultation": ("Consultation", "Raadpleging", "Consultation"),
    "consultation_title": (
        "Consultation of the integrations",
        "Raadpleging van de integraties",
        "Consultation des intégrations",
    ),
    "consult_intro": (
        "Every institution's integrations of the person over the period: yours, other OCMWs' / CPAS' and other "
        "social-security institutions'.",
        "Alle integraties van de persoon in de periode: van uw centrum, van andere OCMW's en van andere "
        "instellingen van de sociale zekerheid.",
        "Toutes les intégrations de la personne sur la période : de votre centre, des autres CPAS et des autres "
        "institutions de sécurité sociale.",
    ),
    "person": ("Person", "Persoon", "Personne"),
    "other_ssin": ("or another SSIN", "of een ander INSZ", "ou un autre NISS"),
    "consultation_period": ("Consultation period", "Periode van raadpleging", "Période de consultation"),
    "from": ("from", "van", "du"),
    "to": ("to", "tot", "au"),
    "consult": ("Consult", "Raadplegen", "Consulter"),
    "institution": ("Institution", "Instelling", "Institution"),
    "sector": ("Sector", "Sector", "Secteur"),
    "period": ("Period", "Periode", "Période"),
    "no_integrations": (
        "No institution has integrated this person in this period.",
        "Geen enkele instelling heeft deze persoon in deze periode geïntegreerd.",
        "Aucune institution n'a intégré cette personne sur cette période.",
    ),
    "all_periods": ("every period", "alle periodes", "toutes les périodes"),
    "onwards": ("onwards", "en verder", "et au-delà"),
    "open_end": ("open end", "open einde", "sans fin"),
    "timeline": ("Timeline", "Tijdlijn", "Ligne du temps"),
    "magnifier": ("Integrations", "Integraties", "Intégrations"),
    "download_svg": ("Download SVG", "SVG downloaden", "Télécharger SVG"),
    "download_png": ("Download PNG", "PNG downloaden", "Télécharger PNG"),
    "today": ("today", "vandaag", "aujourd'hui"),
    "missing_days": ("Missing days", "Ontbrekende dagen", "Jours manquants"),
    "missing_for": (
        "missing for {flow} (rule {rule})",
        "ontbreekt voor {flow} (regel {rule})",
        "manquants pour {flow} (règle {rule})",
    ),
    "check_access": ("CheckAccess", "Toegangscontrole", "Contrôle d'accès"),
    "check_intro": (
        "May your institution send this flow, form or attestation for these persons? Nothing is sent or changed.",
        "Mag uw instelling deze stroom, dit formulier of dit attest voor deze personen versturen? Er wordt niets "
        "verstuurd of gewijzigd.",
        "Votre institution peut-elle envoyer ce flux, ce formulaire ou cette attestation pour ces personnes ? Rien "
        "n'est envoyé ni modifié.",
    ),
    "flow": ("Flow", "Stroom", "Flux"),
    "flows_catalogue": ("The catalogue's flows", "De stromen van de catalogus", "Les flux du catalogue"),
    "flow_needs": ("needs", "vereist", "demande"),
    "rule": ("Rule", "Regel", "Règle"),
    "role": ("Role", "Rol", "Rôle"),
    "check": ("Check", "Controleren", "Contrôler"),
    "allowed": ("allowed", "toegestaan", "autorisé"),
    "refused": ("refused", "geweigerd", "refusé"),
    "satisfied_by": ("Satisfied by", "Voldaan door", "Satisfait par"),
    "flow_dates": ("Dates of the request", "Data van de aanvraag", "Dates de la demande"),
    "dates_help": (
        "Fill in the dates the flow needs (see the list of flows); leave the others empty.",
        "Vul de data in die de stroom vereist (zie de lijst van stromen); laat de andere leeg.",
        "Remplissez les dates que le flux demande (voir la liste des flux) ; laissez les autres vides.",
    ),
    "EffectiveDate": ("Effective date", "Dag van invoegetreding", "Date de prise d'effet"),
    "ConsultationPeriod": ("Consultation period", "Periode van raadpleging", "Période de consultation"),
    "ValidityPeriod": ("Validity period", "Geldigheidsperiode", "Période de validité"),
    "DecisionPeriod": ("Decision period", "Beslissingsperiode", "Période de décision"),
    "DeliveryYear": ("Delivery year", "Jaar van levering", "Année de livraison"),
    "Aid": ("Granted aid", "Toegekende steun", "Aide accordée"),
    "SUBJECT": ("subject", "betrokkene", "personne concernée"),
    "MAIN": ("main beneficiary", "hoofdbegunstigde", "bénéficiaire principal"),
    "PARTNER": ("partner", "partner", "partenaire"),
    "ADDITIONAL": ("additional beneficiary", "bijkomende begunstigde", "bénéficiaire supplémentaire"),
    "LIVING_WAGE": ("living wage", "leefloon", "revenu d'intégration"),
    "EQUIVALENT_LIVING_WAGE": ("equivalent living wage", "equivalent leefloon", "équivalent revenu d'intégration"),
    "OTHER_FINANCIAL_AID": ("other financial aid", "andere financiële hulp", "autre aide financière"),
    "EMPLOYMENT_ART60": ("employment art. 60", "tewerkstelling art. 60", "mise au travail art. 60"),
    "INTEGRATED": ("integrated", "geïntegreerd", "intégré"),
    "ALREADY_INTEGRATED": ("already integrated", "reeds geïntegreerd", "déjà intégré"),
    "DESINTEGRATED": ("desintegrated", "gedesintegreerd", "désintégré"),
    "NOTHING_TO_REMOVE": ("nothing to remove", "niets te verwijderen", "rien à supprimer"),
    "REFUSED": ("refused", "geweigerd", "refusé"),
    "bad_date": (
        "{field}: {value!r} is not a date (YYYY-MM-DD).",
        "{field}: {value!r} is geen datum (JJJJ-MM-DD).",
        "{field} : {value!r} n'est pas une date (AAAA-MM-JJ).",
    ),
    "date_required": ("{field} is required.", "{field} is verplicht.", "{field} est obligatoire."),
    "end_without_start": (
        "{field}: give its start date too.",
        "{field}: geef ook de begindatum.",
        "{field} : indiquez aussi la date de début.",
    ),
    "end_before_start": (
        "{field}: the end date lies before the start date.",
        "{field}: de einddatum ligt voor de begindatum.",
        "{field} : la date de fin précède la date de début.",
    ),
    "bad_year": (
        "{field}: {value!r} is not a year.",
        "{field}: {value!r} is geen jaar.",
        "{field} : {value!r} n'est pas une année.",
    ),
    "bad_code": (
        "Choose a quality code from the list.",
        "Kies een hoedanigheidscode uit de lijst.",
        "Choisissez un code qualité dans la liste.",
    ),
    "not_found": ("This page does not exist.", "Deze pagina bestaat niet.", "Cette page n'existe pas."),
    "not_allowed": (
        "This page does not take that method.",
        "Deze pagina aanvaardt die methode niet.",
        "Cette page n'accepte pas cette méthode.",
    ),
    "bad_form": (
        "The form could not be read: send it from the console's own page.",
        "Het formulier kon niet gelezen worden: verstuur het vanaf de pagina van de console.",
        "Le formulaire n'a pas pu être lu : envoyez-le depuis la page de la console.",
    ),
    "unavailable": (
        "The directory cannot be reached right now; nothing was done. Try again later (incident {incident}).",
        "Het repertorium is nu niet bereikbaar; er is niets uitgevoerd. Probeer later opnieuw (incident {incident}).",
        "Le répertoire est injoignable pour le moment ; rien n'a été fait. Réessayez plus tard (incident {incident}).",
    ),
    "png_unavailable": (
        "This server cannot draw PNG images (the cairo library is missing); download the SVG instead.",
        "Deze server kan geen PNG-beelden tekenen (de cairo-bibliotheek ontbreekt); download de SVG.",
        "Ce serveur ne peut pas dessiner d'images PNG (la bibliothèque cairo manque) ; téléchargez le SVG.",
    ),
    "language": ("Language", "Taal", "Langue"),
    "logged_in_as": ("Logged in as", "Aangemeld als", "Connecté en tant que"),
    "gateway_day": ("The gateway's day", "Dag van de gateway", "Jour de la passerelle"),
}

# The manual's Dutch names of sector 17's quality codes (and their French names), by the catalogue's English label.
_CODE_LABELS: Mapping[str, tuple[str, str]] = {
    "file under investigation": ("dossier in onderzoek", "dossier en cours d'examen"),
    "living-wage file": ("dossier leefloon", "dossier revenu d'intégration"),
    "equivalent living wage": ("dossier equivalent leefloon", "dossier équivalent au revenu d'intégration"),
    "other financial aid": ("andere financiële hulp", "autre aide financière"),
    "cohabitant without own request or grant": (
        "inwonende zonder eigen vraag of toekenning",
        "cohabitant sans demande ni octroi propre",
    ),
    "employed via art. 60, 61 or other OCMW wage subsidy": (
        "tewerkgesteld via art.60, 61 of andere OCMW-loontussenkomst",
        "mis au travail via l'art. 60, 61 ou une autre intervention salariale du CPAS",
    ),
    "debt mediation or budget guidance": (
        "dossier schuldbemiddeling of budgetbegeleiding",
        "dossier de médiation de dettes ou de guidance budgétaire",
    ),
    "services file": ("dienstendossier", "dossier de services"),
    "other forms of guidance": ("andere vormen van begeleiding", "autres formes d'accompagnement"),
    "ESF supervisory staff": ("omkaderingspersoneel ESF", "personnel d'encadrement FSE"),
    "ESF participant": ("deelnemer ESF", "participant FSE"),
    "maintenance debtor": ("alimentatieplichtige", "débiteur d'aliments"),
    "debtor of the OCMW (for the recipient)": (
        "schuldenaar bij het OCMW (voor ontvanger)",
        "débiteur envers le CPAS (pour le bénéficiaire)",
    ),
    "heating-oil premium file": ("dossier stookoliepremie", "dossier allocation de chauffage"),
}

_INDEX = {"en": 0, "nl": 1, "fr": 2}


class Words:
    """The texts of one language: ``words("login")``, ``words("bad_date", field=..., value=...)``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in _INDEX else DEFAULT_LANGUAGE
        self._index = _INDEX[self.lang]

    def __call__(self, key: str, **values: object) -> str:
        text = TEXTS[key][self._index]
        return text.format(**values) if values else text


def words(lang: str) -> Words:
    return Words(lang)


def code_label(label: str, lang: str) -> str:
    """A quality code's label in ``lang``: the manual's name when the catalogue's English label is known."""
    known = _CODE_LABELS.get(label)
    if known is None or lang == "en":
        return label
    return known[0] if lang == "nl" else known[1]

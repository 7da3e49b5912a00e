"""Visitor questions for a small software company's help center (`bench/sites/invoicing`).

The site is the help center of Tallybird, a fictional British invoicing and bookkeeping web app
for freelancers: a home page and eighteen short articles (getting started, plans and pricing as
a comparison table, billing and refunds, creating an invoice in numbered steps, recurring
invoices, the ways clients can pay as a table, reminders and late fees, taxes and VAT,
multi-currency, exporting, integrations as lists, team roles as a permissions table, security
and 2FA, closing an account and data retention, the API and webhooks with code samples,
troubleshooting, FAQ, contact). It measures the chatbot on the kind of customer a SaaS company
is: menu paths ("Settings > Taxes"), plan names that are also common words ("Free", "Pro",
"Business"), and facts spread over tables, steps and code.

Both the site and the questions were written blind, in one go: their writer never looked at the
product's answering or retrieval code or at any benchmark results. Every question is `fresh`:
nobody tunes on it or reads its answers. Pages are paths relative to `SITE_ROOT`, which is
relative to the repository root; see `bench.questions` for what the fields mean.
"""

from __future__ import annotations

from bench.questions import Question, QuestionSet, f, uf

SITE_ROOT = "bench/sites/invoicing"

ANSWERABLE: tuple[Question, ...] = (
    # --- plans, trial and billing ---
    f("whats the difference between pro and business", "plans.html", "£32", "API"),
    f("how much is solo if i pay for the whole year up front", "plans.html", "£90"),
    f("is there a free plan? whats the catch", "plans.html", "5 per month"),
    f(
        "we need a 12th person on our business account, how much extra is that",
        "plans.html team.html",
        "£4 per user per month",
    ),
    f(
        "how much is pro on yearly billing and does it let clients pay by direct debit",
        "plans.html payment-methods.html",
        "£170",
        "Direct Debit",
    ),
    f(
        "free trial?? do i have to put my card details in",
        "getting-started.html",
        "30-day free trial",
        "don't need a card",
    ),
    f(
        "paid for a year last week and changed my mind, can i get my money back",
        "billing.html",
        "14 days",
        "in full",
    ),
    f(
        "where are the receipts for what i pay you, my accountant needs them for vat",
        "billing.html",
        "Settings > Billing > Receipts",
    ),
    # --- invoices ---
    f(
        "how do i make my invoice numbers start at 100",
        "create-invoice.html",
        "Settings > Invoices > Numbering",
    ),
    f(
        "client wants 30 days to pay not 14, where do i change that",
        "create-invoice.html",
        "Net 30",
        "Settings > Invoices",
    ),
    f(
        "spotted a mistake on an invoice the client already paid, how do i fix it",
        "create-invoice.html",
        "credit note",
    ),
    f(
        "can i send a quote first and turn it into an invoice later",
        "faq.html create-invoice.html",
        "Convert to invoice",
    ),
    # --- recurring invoices ---
    f("how do i charge a client every month", "recurring-invoices.html", "Invoices > Recurring"),
    f(
        "can it just take the money off my clients card automaticaly each month",
        "recurring-invoices.html",
        "Autopay",
    ),
    f(
        "my retainer invoice goes out on the 31st, what happens in feb",
        "recurring-invoices.html",
        "last day of shorter months",
    ),
    # --- how clients pay ---
    f("can my clients pay with apple pay", "payment-methods.html integrations.html", "Stripe"),
    f(
        "what fees do i pay when a client pays by card",
        "payment-methods.html",
        "1.5% + 20p",
        "adds no fee",
    ),
    f("can clients pay me in bitcoin", "payment-methods.html", "don't support cryptocurrency"),
    f(
        "client paid by bank transfer 3 days ago but its still showing as unpaid",
        "payment-methods.html troubleshooting.html",
        "Record payment",
    ),
    f("can i take payments in euros", "currencies.html payment-methods.html", "Pro and Business"),
    f(
        "signed up and my currency says dollars but im in the uk, can i change it",
        "currencies.html",
        "first invoice",
    ),
    # --- reminders and late fees ---
    f(
        "can tallybird chase clients who havent paid so i dont have to",
        "reminders.html",
        "Settings > Reminders",
    ),
    f("can i add interest or a fee when someone pays late", "reminders.html", "Late fees"),
    f(
        "client asked for an extra week, how do i stop the nagging emails for just that invoice",
        "reminders.html",
        "Pause reminders",
    ),
    # --- taxes ---
    f("where do i put in vat at 20%", "taxes.html", "Settings > Taxes"),
    f("invoicing a company in germany, do i charge them vat?", "taxes.html", "Reverse charge"),
    f(
        "can i send my vat return to hmrc straight from tallybird",
        "taxes.html",
        "can't submit VAT returns",
    ),
    # --- exports and integrations ---
    f(
        "need about 50 invoices as pdfs, do i have to download them one by one",
        "export.html",
        "Download PDFs",
    ),
    f(
        "my accountant wants a spreadsheet of everything i invoiced last year",
        "export.html",
        "Reports > Export",
    ),
    f("does it sync with xero", "integrations.html plans.html", "every 15 minutes"),
    f(
        "is there a timer to track my hours",
        "faq.html integrations.html",
        "Toggl Track",
        "Harvest",
    ),
    # --- team ---
    f(
        "how to add my accountant, do i have to pay extra for them",
        "team.html plans.html",
        "Settings > Team",
        "free",
    ),
    f(
        "im selling my business, how do i hand the account over to the buyer",
        "team.html",
        "Transfer ownership",
    ),
    # --- security and closing the account ---
    f(
        "how do i turn on 2 step login",
        "security.html",
        "Settings > Security > Two-factor authentication",
    ),
    f(
        "lost my phone with the authenticator app on it, cant get in",
        "security.html",
        "backup codes",
    ),
    f("where are my clients details stored, is it in the eu", "security.html", "Ireland"),
    f(
        "if i delete my account how long do you keep my stuff, and can i get it back",
        "close-account.html",
        "30 days",
    ),
    # --- API and webhooks ---
    f("do you have an api? which plan", "api.html plans.html", "Business plan"),
    f(
        "how do i check a webhook really came from you",
        "api.html",
        "Tallybird-Signature",
        "HMAC-SHA256",
    ),
    f("in the api are amounts in pounds or pence", "api.html", "smallest unit"),
    # --- troubleshooting ---
    f(
        "client says they never got the invoice",
        "troubleshooting.html",
        "spam",
        "invoices@send.tallybird.io",
    ),
    f("theres no pay now button on my invoice??", "troubleshooting.html", "Stripe"),
    f("my logo looks all pixelated on the pdf", "troubleshooting.html", "600 pixels"),
    # --- FAQ and contact ---
    f(
        "can the invoice emails come from my own address instead of yours",
        "faq.html plans.html",
        "Business plan",
    ),
    f("is there an app for my iphone", "faq.html", "iOS 16"),
    f(
        "what hours is support open and can i just ring you",
        "contact.html",
        "9:00 to 17:30",
        "phone support",
    ),
)

UNANSWERABLE: tuple[Question, ...] = (
    uf("do you do payroll as well? got one part timer"),
    uf("do u have a referral scheme, ive sent loads of friends your way"),
    uf("how do i register as self employed with hmrc"),
    uf("is tallybird hipaa compliant, one of my clients is a us clinic"),
    uf("can i get paid early on my unpaid invoices, like invoice financing"),
    uf("is there a max number of line items on one invoice"),
    uf("any discount for charities"),
    uf("who started tallybird"),
    uf("can i host tallybird on my own server"),
    uf("is there a dark mode"),
    uf("what uptime do you guarantee"),
    uf("whats a good laptop for graphic design under 1000 quid"),
)

INVOICING = QuestionSet(
    name="invoicing-visitors",
    site_root=SITE_ROOT,
    questions=ANSWERABLE + UNANSWERABLE,
)
